//! RFC 8785 canonical JSON of a JSON value, written in one pass: byte for byte what
//! `serde_jcs` writes (a property test holds the two equal), at a fraction of its cost.
//!
//! `serde_jcs` buffers every key and value of every object into its own heap vector and a
//! tree map before writing it out; sealing two events per tool call made that a tenth of
//! the gateway's instructions. Here only an object's keys are sorted, in place.

use serde_json::Value;

/// Appends the canonical JSON of `value` to `out`.
pub(crate) fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Integers print as serde_json prints them; a fraction goes through serde_jcs,
        // whose ECMAScript number formatting is the reference (events rarely hold one).
        Value::Number(n) if n.is_f64() => out.extend_from_slice(&serde_jcs::to_vec(n)?),
        // The same escapes as serde_jcs: both are serde_json's string writer.
        Value::Number(_) | Value::String(_) => serde_json::to_writer(&mut *out, value)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
            if entries.iter().all(|(key, _)| sorts_as_written(key)) {
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            } else {
                // serde_jcs orders keys by their written form, quotes and escapes included.
                let written: Result<Vec<Vec<u8>>, _> =
                    entries.iter().map(|(k, _)| serde_json::to_vec(k)).collect();
                let mut keyed: Vec<_> = written?.into_iter().zip(entries).collect();
                keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                entries = keyed.into_iter().map(|(_, entry)| entry).collect();
            }
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                write(value, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Whether a key's written form (`"key"`) sorts among others as the key itself does: true
/// when it needs no escape and holds no byte below the closing quote's, so a key that is a
/// prefix of another still sorts first.
fn sorts_as_written(key: &str) -> bool {
    key.bytes().all(|b| b > b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canonical(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        write(value, &mut out).unwrap();
        out
    }

    #[test]
    fn keys_sort_by_their_written_form_and_nothing_is_spaced() {
        let value = serde_json::json!({"b": [1, -2, 1.5, true, null], "a!": "x\n\"", "a": {}});
        let text = String::from_utf8(canonical(&value)).unwrap();
        assert_eq!(text, r#"{"a!":"x\n\"","a":{},"b":[1,-2,1.5,true,null]}"#);
        assert_eq!(canonical(&value), serde_jcs::to_vec(&value).unwrap());
    }

    fn json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            "[a-z_]{0,6}",
            "[ -~]{0,4}",
            "\\PC{0,3}",
            Just("\u{1}\t".to_owned())
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::String),
            "[\u{0}-\u{7f}]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn it_writes_exactly_what_serde_jcs_writes(value in json()) {
            prop_assert_eq!(canonical(&value), serde_jcs::to_vec(&value).unwrap());
        }
    }
}
