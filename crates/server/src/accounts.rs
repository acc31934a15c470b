//! Passwords of admin accounts: Argon2id (the `argon2` crate's defaults: 19 MiB,
//! 2 passes, 1 lane, as OWASP recommends), stored as PHC strings.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::RngCore;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Hashes a password for storage.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| format!("cannot make a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches a stored hash (false for a malformed hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash no password matches, checked when the account does not exist so that a
/// wrong name takes as long as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&crate::admin::random_token()).unwrap_or_default())
}

/// Checks a new account's name and password; the error says what to change.
pub fn check_new(name: &str, password: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(
            "the name must be 1 to 64 letters, digits or . _ - @ (like ada or ada@example.com)"
                .to_owned(),
        );
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        ));
    }
    if password.eq_ignore_ascii_case(name) {
        return Err("the password must not be the account name".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
        assert!(!verify_password("", decoy_hash()));
    }

    #[test]
    fn new_accounts_need_a_plain_name_and_a_long_password() {
        assert!(check_new("ada", "long enough pass").is_ok());
        assert!(check_new("ada@example.com", "long enough pass").is_ok());
        assert!(
            check_new("", "long enough pass")
                .unwrap_err()
                .contains("name")
        );
        assert!(
            check_new("a b", "long enough pass")
                .unwrap_err()
                .contains("name")
        );
        assert!(check_new("ada", "short").unwrap_err().contains("12"));
        assert!(
            check_new("adalovelace1", "ADALOVELACE1")
                .unwrap_err()
                .contains("name")
        );
    }
}
