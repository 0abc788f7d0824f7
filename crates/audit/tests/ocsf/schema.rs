//! A validator over the OCSF 1.8.0 definitions trimmed into `tests/ocsf/*.json`: required
//! attributes (inherited ones too), known attributes only, types, enums and constraints.

use mandate_audit::OCSF_VERSION;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) struct Schema {
    pub(crate) classes: BTreeMap<u64, Value>,
    objects: Map<String, Value>,
}

pub(crate) fn schema() -> Schema {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ocsf");
    let mut classes = BTreeMap::new();
    let mut objects = Map::new();
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["version"], OCSF_VERSION, "{}", path.display());
        if let Some(found) = doc["objects"].as_object() {
            objects.extend(found.clone());
        } else {
            classes.insert(doc["class_uid"].as_u64().unwrap(), doc);
        }
    }
    assert_eq!(classes.len(), 5, "one file per class the export emits");
    Schema { classes, objects }
}

/// Every way `record` is not valid OCSF 1.8.0, as `path: problem` lines.
pub(crate) fn problems(schema: &Schema, record: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let Some(fields) = record.as_object() else {
        return vec!["a record must be a json object".into()];
    };
    let Some(class) = record["class_uid"]
        .as_u64()
        .and_then(|uid| schema.classes.get(&uid))
    else {
        return vec![format!("no class for class_uid {}", record["class_uid"])];
    };
    let name = class["name"].as_str().unwrap();
    check_attributes(schema, name, class, fields, &mut found);
    let activity = record["activity_id"].as_u64();
    if record["category_uid"] != class["category_uid"] {
        found.push(format!(
            "{name}: category_uid is not {}",
            class["category_uid"]
        ));
    }
    let type_uid = class["class_uid"]
        .as_u64()
        .zip(activity)
        .map(|(c, a)| c * 100 + a);
    if record["type_uid"].as_u64().is_none() || record["type_uid"].as_u64() != type_uid {
        found.push(format!(
            "{name}: type_uid is not class_uid * 100 + activity_id"
        ));
    }
    if record["class_name"] != class["caption"] {
        found.push(format!("{name}: class_name is not {}", class["caption"]));
    }
    if record["metadata"]["version"] != OCSF_VERSION {
        found.push(format!("{name}: metadata.version is not {OCSF_VERSION}"));
    }
    found
}

/// Checks an object's fields against a class or object definition.
fn check_attributes(
    schema: &Schema,
    path: &str,
    definition: &Value,
    fields: &Map<String, Value>,
    found: &mut Vec<String>,
) {
    let attributes = definition["attributes"].as_object().unwrap();
    for (name, attribute) in attributes {
        let present = fields.get(name).is_some_and(|v| !v.is_null());
        if attribute["requirement"] == "required" && !present {
            found.push(format!("{path}: required `{name}` is missing"));
        }
    }
    for (name, value) in fields {
        match attributes.get(name) {
            None => found.push(format!("{path}: `{name}` is not an attribute of it")),
            Some(attribute) => {
                check_value(schema, &format!("{path}.{name}"), attribute, value, found)
            }
        }
    }
    for constraint in definition["constraints"].as_array().unwrap() {
        let (kind, names) = constraint.as_object().unwrap().iter().next().unwrap();
        let present = names
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| {
                fields
                    .get(n.as_str().unwrap())
                    .is_some_and(|v| !v.is_null())
            })
            .count();
        let ok = match kind.as_str() {
            "at_least_one" => present >= 1,
            "just_one" => present == 1,
            other => panic!("unknown constraint {other}"),
        };
        if !ok {
            found.push(format!("{path}: constraint {kind} {names} not met"));
        }
    }
}

fn check_value(
    schema: &Schema,
    path: &str,
    attribute: &Value,
    value: &Value,
    found: &mut Vec<String>,
) {
    let ty = attribute["type"].as_str().unwrap();
    if attribute["is_array"] == true {
        match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_type(schema, &format!("{path}[{i}]"), ty, item, found);
                }
            }
            None => found.push(format!("{path}: expected an array of {ty}")),
        }
    } else {
        check_type(schema, path, ty, value, found);
    }
    if let Some(allowed) = attribute["enum"].as_array()
        && !allowed.contains(value)
    {
        found.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
}

fn check_type(schema: &Schema, path: &str, ty: &str, value: &Value, found: &mut Vec<String>) {
    let ok = match ty {
        "integer_t" | "long_t" => value.is_i64() || value.is_u64(),
        // Milliseconds since the epoch: anything after 2001 is more than 10^12.
        "timestamp_t" => value.as_i64().is_some_and(|ms| ms > 1_000_000_000_000),
        "string_t" | "email_t" | "url_t" | "uuid_t" => value.is_string(),
        "boolean_t" => value.is_boolean(),
        "json_t" => true,
        "object_t" => value.is_object(),
        object => {
            let Some(definition) = schema.objects.get(object) else {
                found.push(format!(
                    "{path}: object type `{object}` is not in objects.json"
                ));
                return;
            };
            match value.as_object() {
                Some(fields) => check_attributes(schema, path, definition, fields, found),
                None => found.push(format!("{path}: expected a `{object}` object")),
            }
            return;
        }
    };
    if !ok {
        found.push(format!("{path}: {value} is not a {ty}"));
    }
}

/// The paths of every required attribute in `record`, and in every object it holds.
pub(crate) fn required_paths(
    schema: &Schema,
    definition: &Value,
    value: &Value,
    prefix: &[String],
) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (name, attribute) in definition["attributes"].as_object().unwrap() {
        let mut path = prefix.to_vec();
        path.push(name.clone());
        if attribute["requirement"] == "required" {
            paths.push(path.clone());
        }
        let nested = attribute["type"]
            .as_str()
            .and_then(|t| schema.objects.get(t));
        if let (Some(nested), Some(inner)) = (nested, value.get(name))
            && attribute["is_array"] != true
        {
            paths.extend(required_paths(schema, nested, inner, &path));
        }
    }
    paths
}

pub(crate) fn remove(record: &Value, path: &[String]) -> Value {
    let mut copy = record.clone();
    let (last, parents) = path.split_last().unwrap();
    let mut at = &mut copy;
    for key in parents {
        at = &mut at[key.as_str()];
    }
    at.as_object_mut().unwrap().remove(last);
    copy
}
