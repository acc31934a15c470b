//! Configuration: one TOML file plus `GHLSYNC_*` environment overrides. Unknown
//! keys are errors that name the key and the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data directory (SQLite file, master key). Env: `GHLSYNC_DATA_DIR`. Default `./data`.
    pub data_dir: Option<PathBuf>,
    /// `postgres://...` to use PostgreSQL; SQLite in the data directory otherwise.
    /// Env: `GHLSYNC_DATABASE_URL`.
    pub database_url: Option<String>,
    /// Where `serve` listens. Env: `GHLSYNC_LISTEN`. Default `127.0.0.1:8080`.
    pub listen: Option<SocketAddr>,
    #[serde(default)]
    pub ghl: GhlSection,
    #[serde(default)]
    pub worker: WorkerSection,
}

/// `[ghl]`: the HighLevel marketplace app and API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GhlSection {
    /// API base URL. Env: `GHLSYNC_GHL_BASE_URL`.
    pub base_url: Option<String>,
    /// Env: `GHLSYNC_GHL_CLIENT_ID`.
    pub client_id: Option<String>,
    /// Env: `GHLSYNC_GHL_CLIENT_SECRET`. Prefer the environment over the file.
    pub client_secret: Option<String>,
    /// Ed25519 public key (PEM) that verifies `X-GHL-Signature`; HighLevel's when unset.
    /// Env: `GHLSYNC_GHL_WEBHOOK_PUBLIC_KEY`.
    pub webhook_public_key: Option<String>,
}

/// `[worker]`: queue worker tuning.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSection {
    pub batch: Option<usize>,
    pub concurrency: Option<usize>,
    pub lease_ms: Option<u64>,
    /// Refresh OAuth tokens when less than this is left.
    pub refresh_ahead_secs: Option<u64>,
}

impl Config {
    /// Loads `path` (which must exist when given), else `./ghlsync.toml` when present,
    /// then applies environment overrides.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = match path {
            Some(p) => Self::from_file(p)?,
            None if Path::new("ghlsync.toml").exists() => {
                Self::from_file(Path::new("ghlsync.toml"))?
            }
            None => Self::default(),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(v) = env("GHLSYNC_DATA_DIR") {
            config.data_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("GHLSYNC_DATABASE_URL") {
            config.database_url = Some(v);
        }
        if let Some(v) = env("GHLSYNC_LISTEN") {
            config.listen = Some(
                v.parse()
                    .with_context(|| format!("GHLSYNC_LISTEN is not an address: {v}"))?,
            );
        }
        if let Some(v) = env("GHLSYNC_GHL_BASE_URL") {
            config.ghl.base_url = Some(v);
        }
        if let Some(v) = env("GHLSYNC_GHL_CLIENT_ID") {
            config.ghl.client_id = Some(v);
        }
        if let Some(v) = env("GHLSYNC_GHL_CLIENT_SECRET") {
            config.ghl.client_secret = Some(v);
        }
        if let Some(v) = env("GHLSYNC_GHL_WEBHOOK_PUBLIC_KEY") {
            config.ghl.webhook_public_key = Some(v);
        }
        Ok(config)
    }

    fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        match toml::from_str(&text) {
            Ok(c) => Ok(c),
            Err(e) => bail!("config file {}: {}", path.display(), e.message()),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(store::default_data_dir)
    }

    pub fn store_options(&self) -> store::StoreOptions {
        let mut o = store::StoreOptions::sqlite(self.data_dir());
        o.database_url.clone_from(&self.database_url);
        o
    }

    pub async fn open_store(&self) -> anyhow::Result<store::Store> {
        let options = self.store_options();
        let what = if options.is_postgres() {
            "PostgreSQL (GHLSYNC_DATABASE_URL)"
        } else {
            "SQLite"
        };
        store::Store::open(&options)
            .await
            .with_context(|| format!("cannot open the {what} store"))
    }

    pub fn ghl_base_url(&self) -> anyhow::Result<url::Url> {
        let raw = self
            .ghl
            .base_url
            .as_deref()
            .unwrap_or(ghl::DEFAULT_BASE_URL);
        url::Url::parse(raw).with_context(|| format!("ghl.base_url is not a URL: {raw}"))
    }

    /// The marketplace app, when client id and secret are configured.
    pub fn ghl_app(&self) -> anyhow::Result<Option<engine::GhlApp>> {
        match (&self.ghl.client_id, &self.ghl.client_secret) {
            (Some(id), Some(secret)) => Ok(Some(engine::GhlApp {
                client_id: id.clone(),
                client_secret: secret.clone().into(),
                api_base: self.ghl_base_url()?,
            })),
            (None, None) => Ok(None),
            _ => bail!(
                "set both ghl.client_id and ghl.client_secret (GHLSYNC_GHL_CLIENT_ID, GHLSYNC_GHL_CLIENT_SECRET), or neither"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let dir = std::env::temp_dir().join(format!("ghlsync-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "data_dir = \"x\"\n[ghl]\nclient_idd = \"oops\"\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("client_idd"), "{err}");
        assert!(err.contains("bad.toml"), "{err}");
        std::fs::write(&file, "data_dir = \"x\"\n[worker]\nbatch = 10\n").unwrap();
        let ok = Config::load(Some(&file)).unwrap();
        assert_eq!(ok.worker.batch, Some(10));
        let missing = Config::load(Some(&dir.join("nope.toml")))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read the config file"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
