//! Email addresses and phone numbers, parsed once at the edge ("parse, don't
//! validate"): a value of these types is known to be well formed and normalised, so
//! matching compares normalised keys and never re-checks.
//!
//! - [`Email`]: RFC 5321/5322 syntax through the `email_address` crate; the domain
//!   is lower-cased (domains are case-insensitive), and [`Email::match_key`] lower-
//!   cases the whole address for first-time matching (every CRM we sync treats the
//!   local part case-insensitively too).
//! - [`Phone`]: parsed and validated by `phonenumber` (a port of Google's
//!   libphonenumber) and kept in E.164 (`+14155550123`). A number without a `+`
//!   prefix is read in the default country the caller gives.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A syntactically valid email address, domain lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// Why a text is not an email address. Names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an email address: {reason}")]
pub struct EmailError {
    pub input: String,
    pub reason: String,
}

impl Email {
    /// Parses `input` (surrounding spaces ignored). A display name (`Ann <a@b.c>`) is
    /// refused: a field holds an address, not a mailbox header.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let text = input.trim();
        let fail = |reason: String| EmailError {
            input: input.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(fail("it is empty".to_owned()));
        }
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal();
        let parsed = email_address::EmailAddress::parse_with_options(text, options)
            .map_err(|e| fail(e.to_string()))?;
        if !parsed.domain().contains('.') {
            return Err(fail(format!(
                "the domain `{}` has no dot (a bare host name cannot receive mail from the internet)",
                parsed.domain()
            )));
        }
        Ok(Self(format!(
            "{}@{}",
            parsed.local_part(),
            parsed.domain().to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key first-time matching compares: the whole address lower-cased.
    pub fn match_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, EmailError> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A valid phone number in E.164 form (`+` country code and national number).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

/// Why a text is not a phone number. Names the input (and the default country used).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("`{input}` is not a phone number: it is empty")]
    Empty { input: String },
    #[error(
        "`{country}` is not an ISO 3166 country code (expected two letters such as US, GB, DE)"
    )]
    UnknownCountry { country: String },
    #[error("`{input}` is not a phone number{}: {reason}", in_country(.country))]
    Unparsable {
        input: String,
        country: Option<String>,
        reason: String,
    },
    #[error("`{input}` is not a valid phone number{} (it has the wrong length or no such number range exists)", in_country(.country))]
    Invalid {
        input: String,
        country: Option<String>,
    },
}

fn in_country(country: &Option<String>) -> String {
    country
        .as_ref()
        .map(|c| format!(" in {c}"))
        .unwrap_or_default()
}

impl Phone {
    /// Parses `input`. A number starting with `+` (or `00`) carries its own country
    /// code; any other is read as a national number of `default_country` (ISO 3166
    /// alpha-2, e.g. `US`). Without a default country, only international numbers
    /// parse.
    pub fn parse(input: &str, default_country: Option<&str>) -> Result<Self, PhoneError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(PhoneError::Empty {
                input: input.to_owned(),
            });
        }
        let country = match default_country {
            Some(code) => Some(
                phonenumber::country::Id::from_str(&code.trim().to_ascii_uppercase()).map_err(
                    |_| PhoneError::UnknownCountry {
                        country: code.to_owned(),
                    },
                )?,
            ),
            None => None,
        };
        let country_name = default_country.map(|c| c.trim().to_ascii_uppercase());
        let number = phonenumber::parse(country, text).map_err(|e| PhoneError::Unparsable {
            input: input.to_owned(),
            country: country_name.clone(),
            reason: e.to_string(),
        })?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid {
                input: input.to_owned(),
                country: country_name,
            });
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// `+14155550123`.
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The national format of its country: `(415) 555-0123`.
    pub fn national(&self) -> String {
        phonenumber::parse(None, &self.0).map_or_else(
            |_| self.0.clone(),
            |n| n.format().mode(phonenumber::Mode::National).to_string(),
        )
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    /// Stored phones are E.164 already, so no default country is needed.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text, None).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_parse_once_and_normalise_the_domain() {
        let e = Email::parse("  Ann.Lee@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Ann.Lee@example.com");
        assert_eq!(e.match_key(), "ann.lee@example.com");
        assert_eq!(
            Email::parse("ann+tag@sub.example.co.uk").unwrap().as_str(),
            "ann+tag@sub.example.co.uk"
        );
        for bad in [
            "",
            "   ",
            "ann",
            "ann@",
            "@example.com",
            "ann@@example.com",
            "Ann <ann@example.com>",
            "ann@localhost",
            "ann lee@example.com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.input, bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("`{bad}` is not an email address")),
                "{err}"
            );
        }
        let back: Email = serde_json::from_str("\"Bob@EXAMPLE.org\"").unwrap();
        assert_eq!(back.as_str(), "Bob@example.org");
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }

    #[test]
    fn phones_from_several_countries_become_e164() {
        let cases = [
            ("(415) 555-0132", Some("US"), "+14155550132"),
            ("415.555.0132", Some("us"), "+14155550132"),
            ("+1 415 555 0132", None, "+14155550132"),
            ("020 7946 0018", Some("GB"), "+442079460018"),
            ("+44 20 7946 0018", Some("US"), "+442079460018"),
            ("030 901820", Some("DE"), "+4930901820"),
            ("01 23 45 67 89", Some("FR"), "+33123456789"),
            ("0412 345 678", Some("AU"), "+61412345678"),
            ("+91 98765 43210", None, "+919876543210"),
            ("0044 20 7946 0018", Some("DE"), "+442079460018"),
        ];
        for (input, country, want) in cases {
            let p = Phone::parse(input, country)
                .unwrap_or_else(|e| panic!("{input} in {country:?}: {e}"));
            assert_eq!(p.e164(), want, "{input} in {country:?}");
        }
    }

    #[test]
    fn bad_phones_are_errors_naming_the_input() {
        let err = Phone::parse("", Some("US")).unwrap_err();
        assert_eq!(
            err,
            PhoneError::Empty {
                input: String::new()
            }
        );
        let err = Phone::parse("call me", Some("US")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`call me` is not a phone number in US"),
            "{err}"
        );
        let err = Phone::parse("123", Some("US")).unwrap_err();
        assert!(err.to_string().contains("`123`"), "{err}");
        let err = Phone::parse("415 555 0132", None).unwrap_err();
        assert!(
            err.to_string().contains("`415 555 0132`"),
            "a national number needs a country: {err}"
        );
        let err = Phone::parse("415 555 0132", Some("XX")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`XX` is not an ISO 3166 country code (expected two letters such as US, GB, DE)"
        );
        let err = Phone::parse("+1 999 555 0132", None).unwrap_err();
        assert!(matches!(err, PhoneError::Invalid { .. }), "{err}");
        // Stored values are E.164 and read back without a country.
        let back: Phone = serde_json::from_str("\"+442079460018\"").unwrap();
        assert_eq!(back.e164(), "+442079460018");
    }
}
