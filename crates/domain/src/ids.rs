//! Ids as types: a connection id, a flow id and a record id are all strings on the
//! wire and in the database, but mixing them up is a bug the compiler can catch.
//! [`RecordRef`] names one record of one connection: an end of a link, the subject
//! of an echo fingerprint and of a run-log line.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id! {
    /// A connection's id: `ghl:<location>`, `ghl-agency:<company>`,
    /// `lofty:<member user id>`, `lytho:<client id>`.
    ConnectionId
}

string_id! {
    /// A sync flow's id (its name in the sync file).
    FlowId
}

string_id! {
    /// A record's id in its own system (a GHL contact id, a Lofty lead id, ...).
    RecordId
}

/// One record of one connection, e.g. contact `abc` of connection `ghl:loc1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordRef {
    pub connection_id: ConnectionId,
    /// The record's type in its system: `contact`, `lead`, `task`, ...
    pub object_type: String,
    pub object_id: RecordId,
}

impl RecordRef {
    pub fn new(
        connection_id: impl Into<ConnectionId>,
        object_type: &str,
        object_id: impl Into<RecordId>,
    ) -> Self {
        Self {
            connection_id: connection_id.into(),
            object_type: object_type.to_owned(),
            object_id: object_id.into(),
        }
    }
}

/// `<connection>/<type>/<id>`, e.g. `ghl:loc1/contact/abc`.
impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.connection_id, self.object_type, self.object_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_plain_strings() {
        let r = RecordRef::new("ghl:loc1", "contact", "abc");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"connection_id": "ghl:loc1", "object_type": "contact", "object_id": "abc"})
        );
        let back: RecordRef = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.to_string(), "ghl:loc1/contact/abc");
        assert_eq!(r.connection_id, "ghl:loc1");
    }
}
