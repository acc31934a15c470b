//! The systems ghlsync connects and the ways a connection authenticates. Both are
//! closed enums: a system or auth kind compared as a string in two crates is a typo
//! waiting to happen. Their names are the ones stored in the database and shown to
//! users (`ghl`, `oauth-agency`, ...).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A name that is not one of a closed set (read from a database row, a flag, a file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}` (expected one of: {expected})")]
pub struct UnknownName {
    /// What was being read (`system`, `auth kind`).
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(UnknownName {
                        what: $what,
                        value: other.to_owned(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

named_enum! {
    /// A system ghlsync connects to.
    System, "system" {
        /// HighLevel (GoHighLevel, API brand LeadConnector).
        Ghl => "ghl",
        /// Lofty, the real-estate CRM.
        Lofty => "lofty",
        /// Lytho Workflow, the creative-workflow platform.
        Lytho => "lytho",
    }
}

named_enum! {
    /// How a connection authenticates.
    AuthKind, "auth kind" {
        /// OAuth 2.0 authorization code (a GHL location, or Lofty's vendor OAuth).
        Oauth => "oauth",
        /// A GHL agency (company) OAuth token that mints location tokens.
        OauthAgency => "oauth-agency",
        /// A GHL Private Integration Token (never expires, no refresh).
        Pit => "pit",
        /// A Lofty personal API key.
        ApiKey => "api_key",
        /// OAuth 2.0 client credentials (Lytho, per tenant).
        ClientCredentials => "client_credentials",
    }
}

impl AuthKind {
    /// Whether the connection's tokens expire and are refreshed with a refresh token.
    pub fn refreshes(self) -> bool {
        matches!(self, Self::Oauth | Self::OauthAgency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors_naming_the_value() {
        for s in System::ALL {
            assert_eq!(s.as_str().parse::<System>().unwrap(), *s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        for k in AuthKind::ALL {
            assert_eq!(k.as_str().parse::<AuthKind>().unwrap(), *k);
            let back: AuthKind = serde_json::from_value(serde_json::json!(k.as_str())).unwrap();
            assert_eq!(back, *k);
        }
        let err = "hubspot".parse::<System>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown system `hubspot` (expected one of: ghl, lofty, lytho)"
        );
        assert!("OAuth".parse::<AuthKind>().is_err(), "names are exact");
        assert!(AuthKind::OauthAgency.refreshes() && !AuthKind::Pit.refreshes());
    }
}
