//! What a committed change means for the nodes' caches of secrets: the change type, how it
//! travels between nodes (a `NOTIFY` payload on one channel), and who listens for it.

use crate::secret::SecretDigest;
use std::time::Instant;

/// A change to tokens that caches must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The token's secret, products or existence changed: forget what is cached for it.
    Token(String),
    /// A digest now belongs to a token: forget that it was unknown.
    Digest(SecretDigest),
    /// The subscription of the project with this key changed: forget its tokens.
    Project(String),
}

impl Change {
    /// `<node> <kind>:<value>`: the node that made the change, so that it can skip its own.
    pub(crate) fn payload(&self, node: &str) -> String {
        match self {
            Change::Token(id) => format!("{node} token:{id}"),
            Change::Digest(d) => format!("{node} digest:{}", d.hex()),
            Change::Project(key) => format!("{node} project:{key}"),
        }
    }

    pub(crate) fn parse(payload: &str) -> Option<(&str, Change)> {
        let (node, change) = payload.split_once(' ')?;
        let change = match change.split_once(':')? {
            ("token", id) => Change::Token(id.to_owned()),
            ("digest", d) => Change::Digest(SecretDigest::from_hex(d)?),
            ("project", key) => Change::Project(key.to_owned()),
            _ => return None,
        };
        Some((node, change))
    }
}

/// Receives changes, from this node's writes and (PostgreSQL) from every other node's.
pub trait ChangeListener: Send + Sync {
    fn changed(&self, change: &Change);
    /// Notifications may have been missed: forget everything.
    fn missed_changes(&self);
    /// Every change committed before `at` has been passed to [`ChangeListener::changed`].
    fn confirmed(&self, at: Instant);
    /// There is no other node (SQLite): every change is this node's own, heard at once.
    fn single_node(&self);
}

pub(crate) const CHANNEL: &str = "tollgate_token_changes";

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn changes_survive_the_notification_payload() {
        let digest = crate::secret::digest("tgr_x");
        for change in [
            Change::Token("01a2-x".into()),
            Change::Digest(digest),
            Change::Project("acme".into()),
        ] {
            assert_eq!(Change::parse(&change.payload("n1")), Some(("n1", change)));
        }
        assert_eq!(Change::parse("nonsense"), None);
    }
}
