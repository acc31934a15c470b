//! The vault: secrets (tokens, client secrets, API keys) encrypted at rest with
//! XChaCha20-Poly1305. Each ciphertext is bound to its row by the additional data
//! (`connection id`, `name`), so it cannot be moved onto another row. The master key
//! comes from `GHLSYNC_MASTER_KEY` or from a key file created with mode 0600 on first
//! run; each row records the id of the key that sealed it, so `ghlsync vault rotate`
//! can re-encrypt everything under a new key.
//!
//! This module holds both halves: the crypto ([`Keyring`], [`MasterKey`]) and the
//! `secrets` table ([`Store::put_secret`], [`Store::secret`], [`Store::rotate_vault`]),
//! so nothing else touches a ciphertext without going through the keyring.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

use crate::{Backend, Result, Store, StoreError};

/// Environment variable holding the master key (32 bytes, base64 or hex).
pub const MASTER_KEY_ENV: &str = "GHLSYNC_MASTER_KEY";
/// Previous master keys (comma-separated), still accepted for decryption.
pub const OLD_KEYS_ENV: &str = "GHLSYNC_OLD_MASTER_KEYS";
/// Name of the key file in the data directory.
pub const KEY_FILE: &str = "master.key";

/// One 256-bit key and its id (first 8 bytes of its SHA-256, hex).
pub struct MasterKey {
    id: String,
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let id = hex::encode(&Sha256::digest(bytes)[..8]);
        Self {
            id,
            key: SecretBox::new(Box::new(bytes)),
        }
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// Parses 32 bytes given as base64 or hex text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| STANDARD.decode(text).ok().filter(|b| b.len() == 32))
            .ok_or_else(|| {
                StoreError::Vault(
                    "a master key must be 32 bytes written as 64 hex digits or base64 (generate one with `openssl rand -base64 32`)".to_owned(),
                )
            })?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(Self::from_bytes(key))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn encode(&self) -> String {
        STANDARD.encode(self.key.expose_secret())
    }
}

/// The current key (seals new secrets) and older keys (still open old ones).
#[derive(Debug)]
pub struct Keyring {
    current: MasterKey,
    old: Vec<MasterKey>,
    /// Where the current key came from, for rotation.
    file: Option<PathBuf>,
}

impl Keyring {
    pub fn new(current: MasterKey) -> Self {
        Self {
            current,
            old: Vec::new(),
            file: None,
        }
    }

    pub fn with_old(mut self, old: MasterKey) -> Self {
        self.old.push(old);
        self
    }

    /// Splits into the current key and the old ones.
    pub fn into_parts(self) -> (MasterKey, Vec<MasterKey>) {
        (self.current, self.old)
    }

    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    /// Loads the keyring: `GHLSYNC_MASTER_KEY` when set, else `<data_dir>/master.key`
    /// (created with mode 0600 when missing). Old keys come from
    /// `GHLSYNC_OLD_MASTER_KEYS` and `<data_dir>/keys/*.key`.
    pub fn load(data_dir: &Path) -> Result<Self, StoreError> {
        let mut ring = match std::env::var(MASTER_KEY_ENV) {
            Ok(text) if !text.trim().is_empty() => Keyring::new(MasterKey::parse(&text)?),
            _ => {
                let path = data_dir.join(KEY_FILE);
                let key = match std::fs::read_to_string(&path) {
                    Ok(text) => MasterKey::parse(&text)
                        .map_err(|e| StoreError::Vault(format!("{}: {e}", path.display())))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let key = MasterKey::generate();
                        write_private(&path, &key.encode())?;
                        tracing::info!(path = %path.display(), key_id = key.id(), "created a new master key");
                        key
                    }
                    Err(e) => {
                        return Err(StoreError::Vault(format!(
                            "cannot read {}: {e}",
                            path.display()
                        )));
                    }
                };
                let mut ring = Keyring::new(key);
                ring.file = Some(path);
                ring
            }
        };
        if let Ok(list) = std::env::var(OLD_KEYS_ENV) {
            for text in list.split(',').filter(|t| !t.trim().is_empty()) {
                ring.old.push(MasterKey::parse(text)?);
            }
        }
        if let Ok(dir) = std::fs::read_dir(data_dir.join("keys")) {
            for entry in dir.flatten() {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    ring.old.push(MasterKey::parse(&text)?);
                }
            }
        }
        Ok(ring)
    }

    /// Makes `new` the current key, keeping the old one for decryption. When the key
    /// lives in a file, the old file moves to `keys/<id>.key` and the new one takes
    /// its place (both 0600).
    /// Before secrets are re-sealed under `new`, keep it where [`Keyring::load`] finds
    /// it (`keys/<id>.key`), so a crash between the database commit and the key swap
    /// loses nothing.
    pub fn stage(&self, new: &MasterKey) -> Result<(), StoreError> {
        if let Some(path) = &self.file {
            let dir = path
                .parent()
                .map(|p| p.join("keys"))
                .unwrap_or_else(|| PathBuf::from("keys"));
            write_private(&dir.join(format!("{}.key", new.id())), &new.encode())?;
        }
        Ok(())
    }

    pub fn rotate_to(&mut self, new: MasterKey) -> Result<(), StoreError> {
        if let Some(path) = &self.file {
            let dir = path
                .parent()
                .map(|p| p.join("keys"))
                .unwrap_or_else(|| PathBuf::from("keys"));
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::Vault(format!("cannot create {}: {e}", dir.display())))?;
            write_private(
                &dir.join(format!("{}.key", self.current.id())),
                &self.current.encode(),
            )?;
            write_private(path, &new.encode())?;
        }
        let old = std::mem::replace(&mut self.current, new);
        self.old.push(old);
        Ok(())
    }

    fn key(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
    }

    /// Encrypts `plaintext` for the row (`connection_id`, `name`): (key id, nonce, ciphertext).
    pub fn seal(
        &self,
        connection_id: &str,
        name: &str,
        plaintext: &SecretString,
    ) -> Result<(String, Vec<u8>, Vec<u8>), StoreError> {
        let cipher = XChaCha20Poly1305::new(Key::from_slice(self.current.key.expose_secret()));
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let aad = aad(connection_id, name);
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Vault("encryption failed".to_owned()))?;
        Ok((self.current.id.clone(), nonce.to_vec(), ct))
    }

    /// Decrypts a row sealed by [`Keyring::seal`].
    pub fn open(
        &self,
        connection_id: &str,
        name: &str,
        key_id: &str,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretString, StoreError> {
        let key = self.key(key_id).ok_or_else(|| {
            StoreError::Vault(format!(
                "secret {name} of connection {connection_id} is sealed with key {key_id}, which is not loaded (set {OLD_KEYS_ENV} or restore keys/{key_id}.key)"
            ))
        })?;
        if nonce.len() != 24 {
            return Err(StoreError::Vault(
                "corrupt secret: bad nonce length".to_owned(),
            ));
        }
        let cipher = XChaCha20Poly1305::new(Key::from_slice(key.key.expose_secret()));
        let aad = aad(connection_id, name);
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| {
                StoreError::Vault(format!("secret {name} of connection {connection_id} does not decrypt (wrong key or tampered row)"))
            })?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| StoreError::Vault("corrupt secret: not UTF-8".to_owned()))
    }
}

/// A random hex id (lease owners, tokens).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn aad(connection_id: &str, name: &str) -> Vec<u8> {
    format!("ghlsync/secrets/v1|{connection_id}|{name}").into_bytes()
}

/// Writes a file readable by its owner only.
/// Writes a file only its owner can read, atomically: a temporary file is written
/// and synced, then renamed over `path`, so a crash leaves the old or the new file,
/// never half of one.
pub fn write_private(path: &Path, contents: &str) -> Result<(), StoreError> {
    use std::io::Write;
    let fail = |what: &str, e: std::io::Error| {
        StoreError::Vault(format!("cannot {what} {}: {e}", path.display()))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| fail("create the folder of", e))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| fail("write", e))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail("replace", e))
}

/// Writes one sealed secret: `(connection_id, name, key_id, nonce, ciphertext, updated_at)`.
pub(crate) const SECRET_UPSERT: &str = "INSERT INTO secrets (connection_id, name, key_id, nonce, ciphertext, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (connection_id, name) DO UPDATE SET key_id = $3, nonce = $4, ciphertext = $5, updated_at = $6";

/// A sealed secret: (key id, nonce, ciphertext).
pub(crate) type Sealed = (String, Vec<u8>, Vec<u8>);

/// (connection id, name, key id, nonce, ciphertext) of a `secrets` row.
type SecretRow = (String, String, String, Vec<u8>, Vec<u8>);

impl Store {
    /// Encrypts and stores a secret of a connection.
    pub async fn put_secret(
        &self,
        connection_id: &str,
        name: &str,
        value: &SecretString,
    ) -> Result<()> {
        let (kid, nonce, ct) = self.keyring()?.seal(connection_id, name, value)?;
        let now = self.now();
        pool!(self, p => {
            sqlx::query(SECRET_UPSERT)
            .bind(connection_id).bind(name).bind(kid).bind(nonce).bind(ct).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }

    /// Reads and decrypts a secret.
    pub async fn secret(&self, connection_id: &str, name: &str) -> Result<Option<SecretString>> {
        let row: Option<Sealed> = pool!(self, p => {
            sqlx::query_as("SELECT key_id, nonce, ciphertext FROM secrets WHERE connection_id = $1 AND name = $2")
                .bind(connection_id).bind(name).fetch_optional(p).await?
        });
        match row {
            None => Ok(None),
            Some((kid, nonce, ct)) => Ok(Some(self.keyring()?.open(
                connection_id,
                name,
                &kid,
                &nonce,
                &ct,
            )?)),
        }
    }

    pub(crate) fn keyring(&self) -> Result<std::sync::RwLockReadGuard<'_, Keyring>> {
        self.keyring
            .read()
            .map_err(|_| StoreError::Vault("keyring lock poisoned".to_owned()))
    }

    /// Re-encrypts every secret (in one transaction) under `new`, which then becomes
    /// the current key; with `None`, under the current key (after the operator put a
    /// new `GHLSYNC_MASTER_KEY` in place and the old one in `GHLSYNC_OLD_MASTER_KEYS`).
    /// Returns how many secrets were re-encrypted.
    pub async fn rotate_vault(&self, new: Option<MasterKey>) -> Result<usize> {
        if let Some(new) = &new {
            self.keyring()?.stage(new)?;
        }
        let staging = new.map(Keyring::new);
        // Read and re-seal inside one locked transaction, so a refresh committed
        // meanwhile is neither lost nor overwritten.
        macro_rules! reseal {
            ($tx:ident, $select:expr) => {{
                let rows: Vec<SecretRow> = sqlx::query_as($select).fetch_all(&mut *$tx).await?;
                let mut resealed = Vec::with_capacity(rows.len());
                {
                    let ring = self.keyring()?;
                    let target = staging.as_ref().unwrap_or(&ring);
                    for (conn, name, kid, nonce, ct) in &rows {
                        let plain = ring.open(conn, name, kid, nonce, ct)?;
                        resealed.push((conn.clone(), name.clone(), target.seal(conn, name, &plain)?));
                    }
                }
                for (conn, name, (kid, nonce, ct)) in &resealed {
                    sqlx::query("UPDATE secrets SET key_id = $3, nonce = $4, ciphertext = $5 WHERE connection_id = $1 AND name = $2")
                        .bind(conn).bind(name).bind(kid).bind(nonce).bind(ct)
                        .execute(&mut *$tx).await?;
                }
                $tx.commit().await?;
                resealed.len()
            }};
        }
        let n = match &self.backend {
            Backend::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                reseal!(
                    tx,
                    "SELECT connection_id, name, key_id, nonce, ciphertext FROM secrets"
                )
            }
            Backend::Postgres(p) => {
                let mut tx = p.begin().await?;
                reseal!(
                    tx,
                    "SELECT connection_id, name, key_id, nonce, ciphertext FROM secrets FOR UPDATE"
                )
            }
        };
        if let Some(staging) = staging {
            let (current, _) = staging.into_parts();
            let mut ring = self
                .keyring
                .write()
                .map_err(|_| StoreError::Vault("keyring lock poisoned".to_owned()))?;
            ring.rotate_to(current)?;
        }
        tracing::info!(key_id = %self.keyring()?.current_id(), secrets = n, "VaultRotated");
        Ok(n)
    }

    /// Id of the key new secrets are sealed with.
    pub fn vault_key_id(&self) -> Result<String> {
        Ok(self.keyring()?.current_id().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_on_their_own_row_and_key() {
        let ring = Keyring::new(MasterKey::from_bytes([7; 32]));
        let secret = SecretString::from("refresh-token-value".to_owned());
        let (kid, nonce, ct) = ring.seal("conn-1", "refresh_token", &secret).unwrap();
        assert!(
            !ct.windows(5).any(|w| w == b"token"),
            "ciphertext does not contain the plaintext"
        );
        let back = ring
            .open("conn-1", "refresh_token", &kid, &nonce, &ct)
            .unwrap();
        assert_eq!(back.expose_secret(), "refresh-token-value");
        assert!(
            ring.open("conn-2", "refresh_token", &kid, &nonce, &ct)
                .is_err(),
            "other row"
        );
        assert!(
            ring.open("conn-1", "access_token", &kid, &nonce, &ct)
                .is_err(),
            "other name"
        );
        let other = Keyring::new(MasterKey::from_bytes([8; 32]));
        assert!(
            other
                .open("conn-1", "refresh_token", &kid, &nonce, &ct)
                .is_err(),
            "other key"
        );
        let mut tampered = ct;
        tampered[0] ^= 1;
        assert!(
            ring.open("conn-1", "refresh_token", &kid, &nonce, &tampered)
                .is_err()
        );
    }

    #[test]
    fn key_parsing_accepts_hex_and_base64_and_names_the_fix() {
        let hex_key = "11".repeat(32);
        assert_eq!(
            MasterKey::parse(&hex_key).unwrap().id(),
            MasterKey::from_bytes([0x11; 32]).id()
        );
        let b64 = STANDARD.encode([0x11; 32]);
        assert_eq!(
            MasterKey::parse(&b64).unwrap().id(),
            MasterKey::from_bytes([0x11; 32]).id()
        );
        let err = MasterKey::parse("short").unwrap_err().to_string();
        assert!(err.contains("32 bytes"), "{err}");
        assert!(
            !format!("{:?}", MasterKey::from_bytes([0x11; 32])).contains("17"),
            "Debug hides the key"
        );
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("ghlsync-vault-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // SAFETY of the test: no other test in this binary reads GHLSYNC_MASTER_KEY.
        let first = Keyring::load(&dir).unwrap();
        let second = Keyring::load(&dir).unwrap();
        assert_eq!(first.current_id(), second.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
