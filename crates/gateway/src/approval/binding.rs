//! What an approval is bound to: SHA-256 over the mandate chain, the tool, the arguments'
//! digest and the expiry, each length-prefixed so no two different calls share bytes.

use mandate_core::{MandateChain, Timestamp, ToolName};
use sha2::{Digest, Sha256};

/// The domain separator: no other hash Mandate makes starts with it.
const DOMAIN: &[u8] = b"mandate.approval.v1\0";

/// The binding of one call, as hex.
pub(crate) fn of(
    chain: &MandateChain,
    tool: &ToolName,
    args_digest: &str,
    expires_at: Timestamp,
) -> String {
    let mut hash = Sha256::new();
    hash.update(DOMAIN);
    let mandates = chain.mandates();
    hash.update(
        u64::try_from(mandates.len())
            .unwrap_or(u64::MAX)
            .to_be_bytes(),
    );
    for mandate in mandates {
        field(&mut hash, mandate.id.as_str().as_bytes());
    }
    field(&mut hash, tool.as_str().as_bytes());
    field(&mut hash, args_digest.as_bytes());
    hash.update(expires_at.as_millis().to_be_bytes());
    hex::encode(hash.finalize())
}

fn field(hash: &mut Sha256, bytes: &[u8]) {
    hash.update(u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes());
    hash.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use mandate_core::{Grantor, Mandate, MandateStatus, ToolClass};

    fn chain(ids: &[&str]) -> MandateChain {
        let links = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Mandate {
                id: id.parse().unwrap(),
                grantor: match i.checked_sub(1) {
                    None => Grantor::Human {
                        human: "alice@corp".parse().unwrap(),
                    },
                    Some(p) => Grantor::Mandate {
                        parent: ids[p].parse().unwrap(),
                        by: "test".into(),
                    },
                },
                root_human: "alice@corp".parse().unwrap(),
                agent: "bot".parse().unwrap(),
                tools: vec![],
                ceiling: ToolClass::Write,
                constraints: vec![],
                approvals: vec![],
                issued_at: Timestamp::from_secs(0),
                expires_at: Timestamp::from_secs(100),
                purpose: String::new(),
                budget: None,
                uses: 0,
                depth: u32::try_from(i).unwrap(),
                depth_remaining: 3,
                status: MandateStatus::Active,
            })
            .collect();
        MandateChain::new(links).unwrap()
    }

    #[test]
    fn every_part_of_the_call_changes_the_binding() {
        let tool = ToolName::new("crm.refund").unwrap();
        let at = Timestamp::from_secs(60);
        let base = of(&chain(&["m_a", "m_b"]), &tool, "sha256:1", at);
        assert_eq!(base, of(&chain(&["m_a", "m_b"]), &tool, "sha256:1", at));
        assert_eq!(base.len(), 64);
        for other in [
            of(&chain(&["m_a"]), &tool, "sha256:1", at),
            of(&chain(&["m_a", "m_c"]), &tool, "sha256:1", at),
            of(
                &chain(&["m_a", "m_b"]),
                &ToolName::new("crm.refunds").unwrap(),
                "sha256:1",
                at,
            ),
            of(&chain(&["m_a", "m_b"]), &tool, "sha256:2", at),
            of(
                &chain(&["m_a", "m_b"]),
                &tool,
                "sha256:1",
                Timestamp::from_secs(61),
            ),
        ] {
            assert_ne!(base, other);
        }
    }
}
