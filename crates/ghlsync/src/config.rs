//! Configuration: one TOML file plus `GHLSYNC_*` environment overrides. Unknown
//! keys are errors that name the key and the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::{Context, bail};
use engine::IntakeSettings;
use serde::Deserialize;
use server::ServeLimits;

/// The whole configuration file. `Debug` shows which secrets are set, never their values.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data directory (SQLite file, master key). Env: `GHLSYNC_DATA_DIR`. Default `./data`.
    pub data_dir: Option<PathBuf>,
    /// `postgres://...` to use PostgreSQL; SQLite in the data directory otherwise.
    /// Env: `GHLSYNC_DATABASE_URL`.
    pub database_url: Option<String>,
    /// Where `serve` listens. Env: `GHLSYNC_LISTEN`. Default `127.0.0.1:8080`.
    pub listen: Option<SocketAddr>,
    /// The URL users reach the server at (callbacks are built from it).
    /// Env: `GHLSYNC_PUBLIC_URL`. Default `http://<listen>`.
    pub public_url: Option<String>,
    /// The operator token: what the CLI on this host uses to drive the server (an
    /// admin API token). Env: `GHLSYNC_ADMIN_TOKEN`. Default: a random token kept in
    /// `<data_dir>/admin.token` (mode 0600). People log in with accounts instead.
    pub admin_token: Option<String>,
    #[serde(default)]
    pub admin: AdminSection,
    #[serde(default)]
    pub ghl: GhlSection,
    #[serde(default)]
    pub lofty: LoftySection,
    #[serde(default)]
    pub worker: WorkerSection,
    #[serde(default)]
    pub intake: IntakeSection,
    #[serde(default)]
    pub server: ServerSection,
    /// Set when the sandbox overlay filled `ghl` (not a config key).
    #[serde(skip)]
    overlay_applied: bool,
    #[serde(skip)]
    ghl_before_overlay: Option<GhlSection>,
    /// The sandbox's Lytho tenant, from the overlay (defaults for `connect lytho`).
    #[serde(skip)]
    pub sandbox_lytho: Option<SandboxLytho>,
}

/// The sandbox Lytho tenant `up` serves: what `connect lytho` needs besides the secret.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxLytho {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
}

/// `[ghl]`: the HighLevel marketplace app and API.
#[derive(Clone, Default, Deserialize)]
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
    /// Consent host: `https://marketplace.gohighlevel.com` (default) or the white-label
    /// `https://marketplace.leadconnectorhq.com`. Env: `GHLSYNC_GHL_AUTH_BASE`.
    pub auth_base: Option<String>,
    /// OAuth redirect URI registered with the app. Env: `GHLSYNC_GHL_REDIRECT_URI`.
    /// Default `<public_url>/oauth/callback/ghl`.
    pub redirect_uri: Option<String>,
    /// Scopes asked for at consent.
    pub scopes: Option<Vec<String>>,
    /// The calendar appointments from Lofty are booked on, per location:
    /// `"<locationId>" = "<calendar id or name>"`, or `"*"` for every location.
    /// Checked when `lofty-ghl-appointments` is enabled.
    pub calendars: Option<std::collections::BTreeMap<String, String>>,
}

fn set(v: &Option<String>) -> &'static str {
    if v.is_some() { "<set>" } else { "<unset>" }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(store::redact_url),
            )
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("admin_token", &set(&self.admin_token))
            .field("ghl", &self.ghl)
            .field("lofty", &self.lofty)
            .field("worker", &self.worker)
            .field("intake", &self.intake)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for GhlSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlSection")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &set(&self.client_secret))
            .field("auth_base", &self.auth_base)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("calendars", &self.calendars)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LoftySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoftySection")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &set(&self.client_secret))
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// File in the data directory where `up` records the sandbox's GHL endpoints.
pub const SANDBOX_OVERLAY: &str = "sandbox.json";

/// What `up` records in [`SANDBOX_OVERLAY`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxOverlay {
    ghl: GhlSection,
    lofty_base_url: Option<String>,
    lytho: Option<SandboxLytho>,
}

/// Scopes asked for when none are configured.
pub const DEFAULT_SCOPES: &[&str] = &[
    "contacts.readonly",
    "contacts.write",
    "calendars/events.readonly",
    "calendars/events.write",
    "locations/customFields.readonly",
    "locations/tags.readonly",
    "locations/tasks.readonly",
    "calendars.readonly",
    "users.readonly",
];

/// `[lofty]`: the Lofty API and, for OAuth connections, a Lofty vendor app.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoftySection {
    /// Env: `GHLSYNC_LOFTY_BASE_URL`. Default `https://api.lofty.com`.
    pub base_url: Option<String>,
    /// Env: `GHLSYNC_LOFTY_CLIENT_ID`.
    pub client_id: Option<String>,
    /// Env: `GHLSYNC_LOFTY_CLIENT_SECRET`.
    pub client_secret: Option<String>,
    /// Consent page. Env: `GHLSYNC_LOFTY_AUTHORIZE_URL`.
    pub authorize_url: Option<String>,
    /// Token endpoint. Env: `GHLSYNC_LOFTY_TOKEN_URL`.
    pub token_url: Option<String>,
    /// Default `<public_url>/oauth/callback/lofty`.
    pub redirect_uri: Option<String>,
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
    /// Days of sync history kept (`ghlsync history`); older entries are pruned by
    /// the worker. Default 90.
    pub history_days: Option<u64>,
    /// Seconds between reconciliation walks (0: never). Default 3600.
    pub reconcile_every_secs: Option<u64>,
    /// The largest share of a flow's links one walk may remove, in percent; more is
    /// held for review. Default 5.
    pub reconcile_max_delete_percent: Option<f64>,
    /// Seconds between walks of GHL's tasks (0: only with the full walk). GHL sends
    /// no webhook when a task is edited or reopened, so this is how late such a
    /// change reaches Lofty at most. Default 300.
    pub tasks_walk_every_secs: Option<u64>,
    /// Seconds between polls of each Lytho connection a flow syncs (0: never).
    /// Lytho sends no webhooks, so this is how late a Lytho change is found at
    /// most. Default 60.
    pub lytho_poll_every_secs: Option<u64>,
    /// Seconds a call to GHL, Lofty or Lytho may take before it is given up as
    /// timed out (and retried). Default 30.
    pub http_timeout_secs: Option<u64>,
}

/// `[intake]`: how long a delivery waits for the journal, and what one may carry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSection {
    /// A GHL webhook not journaled within this is answered 429 (GHL retries only a
    /// 429, and gives up after 10 s). Default 3000.
    pub ghl_deadline_ms: Option<u64>,
    /// The same for a Lofty delivery (Lofty documents no retries). Default 10000.
    pub lofty_deadline_ms: Option<u64>,
    /// Changes one Lofty delivery may carry (its largest batch is 5,000). Default 10000.
    pub lofty_max_changes: Option<usize>,
    /// Changes without `updateTime` to one record within this many seconds are one
    /// job. Default 10.
    pub lofty_dedupe_window_secs: Option<u64>,
    /// Addresses (CIDR, like `10.0.0.0/8`) allowed to post GHL webhooks; empty: any.
    #[serde(default)]
    pub ghl_allow_from: Vec<ipnet::IpNet>,
    /// Addresses allowed to post Lofty deliveries; empty: any.
    #[serde(default)]
    pub lofty_allow_from: Vec<ipnet::IpNet>,
}

/// `[admin]`: the admin UI and API: sessions and who may reach them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// A session unused this many minutes ends. Default 60.
    pub session_idle_minutes: Option<u64>,
    /// A session ends this many hours after login, used or not. Default 12.
    pub session_hours: Option<u64>,
    /// Addresses (CIDR) allowed on the admin pages and API; empty: any.
    #[serde(default)]
    pub allow_from: Vec<ipnet::IpNet>,
}

impl IntakeSection {
    /// The GHL deadline (default 3 s).
    pub fn ghl_deadline(&self) -> Duration {
        self.ghl_deadline_ms.map_or(
            IntakeSettings::default().ghl_deadline,
            Duration::from_millis,
        )
    }

    /// The settings, checked: a GHL deadline at or past GHL's own 10 s timeout
    /// would let GHL give up first (and never retry).
    pub fn settings(&self) -> anyhow::Result<IntakeSettings> {
        let mut s = IntakeSettings {
            ghl_deadline: self.ghl_deadline(),
            ..IntakeSettings::default()
        };
        if s.ghl_deadline.is_zero() || s.ghl_deadline >= Duration::from_secs(10) {
            bail!(
                "intake.ghl_deadline_ms = {} must be between 1 and 9999: GHL gives up on a webhook after 10 s and retries only a 429, so the 429 must come first",
                s.ghl_deadline.as_millis()
            );
        }
        if let Some(ms) = self.lofty_deadline_ms {
            s.lofty_deadline = Duration::from_millis(ms.max(1));
        }
        if let Some(n) = self.lofty_max_changes {
            if n == 0 {
                bail!(
                    "intake.lofty_max_changes must be at least 1 (Lofty sends up to 5,000 changes per delivery)"
                );
            }
            s.lofty_max_changes = n;
        }
        if let Some(secs) = self.lofty_dedupe_window_secs {
            s.lofty_dedupe_window = Duration::from_secs(secs.max(1));
        }
        Ok(s)
    }
}

/// `[server]`: what clients may take and hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Seconds a client has to send a request's header, also the idle time allowed
    /// between requests on a kept-alive connection. Default 10.
    pub header_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request's body. Default 10.
    pub body_timeout_secs: Option<u64>,
    /// Connections open at once. Default 4096, lowered to fit the open-file limit.
    pub max_connections: Option<usize>,
    /// Take the client address from the last `X-Forwarded-For` entry (only behind a
    /// reverse proxy that sets it; allowlists and login limits use it). Default false.
    pub trust_forwarded_for: Option<bool>,
}

impl ServerSection {
    /// The limits, with the connection cap lowered to leave `reserved` of the
    /// `open_files` limit to the store and the clients (logged when lowered).
    pub fn limits(&self, open_files: Option<u64>, reserved: u64) -> ServeLimits {
        let mut l = ServeLimits::default();
        if let Some(s) = self.header_timeout_secs {
            l.header_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = self.body_timeout_secs {
            l.body_timeout = Duration::from_secs(s.max(1));
        }
        let wanted = self.max_connections.unwrap_or(l.max_connections).max(1);
        l.max_connections = wanted;
        if let Some(files) = open_files {
            let fits = usize::try_from(files.saturating_sub(reserved))
                .unwrap_or(usize::MAX)
                .max(16);
            if fits < wanted {
                tracing::warn!(
                    wanted,
                    allowed = fits,
                    open_files = files,
                    "ConnectionCapLowered: the open-file limit leaves room for {fits} connections, not {wanted}; raise the hard limit (ulimit -Hn, LimitNOFILE=) to allow more"
                );
                l.max_connections = fits;
            }
        }
        l
    }
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
        if let Some(v) = env("GHLSYNC_GHL_AUTH_BASE") {
            config.ghl.auth_base = Some(v);
        }
        if let Some(v) = env("GHLSYNC_GHL_REDIRECT_URI") {
            config.ghl.redirect_uri = Some(v);
        }
        if let Some(v) = env("GHLSYNC_PUBLIC_URL") {
            config.public_url = Some(v);
        }
        if let Some(v) = env("GHLSYNC_ADMIN_TOKEN") {
            config.admin_token = Some(v);
        }
        for (var, slot) in [
            ("GHLSYNC_LOFTY_BASE_URL", &mut config.lofty.base_url),
            ("GHLSYNC_LOFTY_CLIENT_ID", &mut config.lofty.client_id),
            (
                "GHLSYNC_LOFTY_CLIENT_SECRET",
                &mut config.lofty.client_secret,
            ),
            (
                "GHLSYNC_LOFTY_AUTHORIZE_URL",
                &mut config.lofty.authorize_url,
            ),
            ("GHLSYNC_LOFTY_TOKEN_URL", &mut config.lofty.token_url),
        ] {
            if let Some(v) = env(var) {
                *slot = Some(v);
            }
        }
        config.apply_sandbox_overlay();
        Ok(config)
    }

    fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses the text of a config file named `name` (no environment overrides).
    pub fn parse(name: &str, text: &str) -> anyhow::Result<Self> {
        match toml::from_str(text) {
            Ok(c) => Ok(c),
            Err(e) => bail!("config file {name}: {}", e.message()),
        }
    }

    /// `ghlsync up` without a real GHL app runs the sandbox and records its GHL
    /// endpoints in `<data_dir>/sandbox.json`, so the other commands (`connect`,
    /// `connections`, `worker`) talk to the same sandbox. A configured app wins.
    fn apply_sandbox_overlay(&mut self) {
        if self.ghl.client_id.is_some() {
            return;
        }
        let Ok(text) = std::fs::read_to_string(self.data_dir().join(SANDBOX_OVERLAY)) else {
            return;
        };
        let Ok(SandboxOverlay {
            ghl: overlay,
            lofty_base_url,
            lytho,
        }) = serde_json::from_str::<SandboxOverlay>(&text)
        else {
            return;
        };
        self.sandbox_lytho = lytho;
        // `connect lofty` reaches the sandbox's Lofty too.
        self.lofty.base_url = self.lofty.base_url.take().or(lofty_base_url);
        self.ghl_before_overlay = Some(self.ghl.clone());
        self.overlay_applied = true;
        self.ghl.base_url = self.ghl.base_url.take().or(overlay.base_url);
        self.ghl.auth_base = self.ghl.auth_base.take().or(overlay.auth_base);
        self.ghl.client_id = overlay.client_id;
        self.ghl.client_secret = overlay.client_secret;
        self.ghl.webhook_public_key = self
            .ghl
            .webhook_public_key
            .take()
            .or(overlay.webhook_public_key);
    }

    /// The configuration as given, minus a sandbox overlay applied at load time.
    pub fn load_without_overlay(loaded: &Config) -> Config {
        let mut c = loaded.clone();
        if c.overlay_applied {
            c.ghl = c.ghl_before_overlay.clone().unwrap_or_default();
            c.overlay_applied = false;
        }
        c
    }

    /// Records the sandbox's GHL app, Lofty base and Lytho tenant for the other
    /// commands (see above).
    pub fn write_sandbox_overlay(
        &self,
        ghl: &GhlSection,
        lofty_base_url: &str,
        lytho: &SandboxLytho,
    ) -> anyhow::Result<()> {
        let value = serde_json::json!({
            "ghl": {
                "base_url": ghl.base_url,
                "auth_base": ghl.auth_base,
                "client_id": ghl.client_id,
                "client_secret": ghl.client_secret,
                "webhook_public_key": ghl.webhook_public_key,
            },
            "lofty_base_url": lofty_base_url,
            "lytho": lytho,
        });
        write_private(&self.data_dir().join(SANDBOX_OVERLAY), &value.to_string())
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

    pub fn listen(&self) -> SocketAddr {
        self.listen.unwrap_or_else(|| ([127, 0, 0, 1], 8080).into())
    }

    /// Where the server is reached (no trailing slash).
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen()))
            .trim_end_matches('/')
            .to_owned()
    }

    /// How the admin side is guarded: sessions, allowlist, cookies, origin.
    pub fn auth_settings(&self) -> anyhow::Result<server::admin::AuthSettings> {
        let public = self.public_url();
        let url = url::Url::parse(&public)
            .with_context(|| format!("public_url {public:?} is not a URL"))?;
        let origin = url.origin().ascii_serialization();
        let mut s = server::admin::AuthSettings {
            secure: url.scheme() == "https",
            origin,
            allow_from: self.admin.allow_from.clone(),
            trust_forwarded_for: self.server.trust_forwarded_for.unwrap_or(false),
            ..server::admin::AuthSettings::default()
        };
        if let Some(m) = self.admin.session_idle_minutes {
            s.idle = Duration::from_secs(m.max(1) * 60);
        }
        if let Some(h) = self.admin.session_hours {
            s.lifetime = Duration::from_secs(h.max(1) * 3600);
        }
        Ok(s)
    }

    /// The admin token: configured, or read from (created in) `<data_dir>/admin.token`.
    pub fn admin_token(&self) -> anyhow::Result<String> {
        if let Some(t) = &self.admin_token {
            return Ok(t.clone());
        }
        let path = self.data_dir().join("admin.token");
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(anyhow::anyhow!(
                "cannot read the admin token {}: {e}",
                path.display()
            )),
            Ok(_) | Err(_) => {
                let token = server::admin::random_token();
                store::create_data_dir(&self.data_dir())?;
                write_private(&path, &token)?;
                Ok(token)
            }
        }
    }

    /// GHL OAuth settings for the server, when the app is configured.
    pub fn oauth_settings(&self) -> anyhow::Result<Option<server::connect::OAuthSettings>> {
        let Some(app) = self.ghl_app()? else {
            return Ok(None);
        };
        let auth_base = self
            .ghl
            .auth_base
            .as_deref()
            .unwrap_or("https://marketplace.gohighlevel.com");
        let auth_base = url::Url::parse(auth_base)
            .with_context(|| format!("ghl.auth_base is not a URL: {auth_base}"))?;
        let redirect_uri = self
            .ghl
            .redirect_uri
            .clone()
            .unwrap_or_else(|| format!("{}/oauth/callback/ghl", self.public_url()));
        let scopes = self
            .ghl
            .scopes
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect());
        Ok(Some(server::connect::OAuthSettings {
            app,
            auth_base,
            redirect_uri,
            scopes,
        }))
    }

    /// Lofty OAuth for the server, when a vendor app is configured.
    pub fn lofty_oauth_settings(
        &self,
    ) -> anyhow::Result<Option<server::connect::LoftyOAuthSettings>> {
        let l = &self.lofty;
        let (Some(id), Some(secret)) = (&l.client_id, &l.client_secret) else {
            return Ok(None);
        };
        let redirect = l
            .redirect_uri
            .clone()
            .unwrap_or_else(|| format!("{}/oauth/callback/lofty", self.public_url()));
        let mut app = lofty::OAuthApp::new(id.clone(), secret.clone().into(), redirect)?;
        if let Some(u) = &l.authorize_url {
            app = app.with_authorize_url(
                url::Url::parse(u)
                    .with_context(|| format!("lofty.authorize_url is not a URL: {u}"))?,
            );
        }
        if let Some(u) = &l.token_url {
            app = app.with_token_url(
                url::Url::parse(u).with_context(|| format!("lofty.token_url is not a URL: {u}"))?,
            );
        }
        let base = l.base_url.as_deref().unwrap_or(lofty::DEFAULT_BASE_URL);
        let api_base = url::Url::parse(base)
            .with_context(|| format!("lofty.base_url is not a URL: {base}"))?;
        Ok(Some(server::connect::LoftyOAuthSettings { app, api_base }))
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

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    store::vault::write_private(path, contents).map_err(anyhow::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let mut c = Config {
            admin_token: Some("admin-SECRET".to_owned()),
            ..Config::default()
        };
        c.ghl.client_secret = Some("ghl-SECRET".to_owned());
        c.lofty.client_secret = Some("lofty-SECRET".to_owned());
        c.database_url = Some("postgres://postgres:pg-SECRET@127.0.0.1:5432/test".to_owned());
        let text = format!("{c:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(
            text.contains("postgres://postgres:***@127.0.0.1:5432/test"),
            "{text}"
        );
    }

    #[test]
    fn intake_and_server_sections_are_checked() {
        let c: Config = toml::from_str(
            "[intake]\nghl_deadline_ms = 2500\nlofty_max_changes = 6000\n[server]\nheader_timeout_secs = 5\nmax_connections = 9000\n",
        )
        .unwrap();
        let s = c.intake.settings().unwrap();
        assert_eq!(s.ghl_deadline, Duration::from_millis(2500));
        assert_eq!(s.lofty_max_changes, 6000);
        let l = c.server.limits(Some(4096), 256);
        assert_eq!(l.header_timeout, Duration::from_secs(5));
        assert_eq!(
            l.max_connections, 3840,
            "lowered to fit the open-file limit"
        );
        assert_eq!(c.server.limits(None, 256).max_connections, 9000);
        // A deadline GHL would not wait for is refused, naming why.
        let late: Config = toml::from_str("[intake]\nghl_deadline_ms = 10000\n").unwrap();
        let err = late.intake.settings().unwrap_err().to_string();
        assert!(
            err.contains("GHL gives up on a webhook after 10 s"),
            "{err}"
        );
    }

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

    /// The fields serde expects at the top level or in `[section]`: read from the
    /// error an unknown key gives (`expected one of ...`), so the list is the
    /// types', not a copy of it.
    fn fields_of(section: Option<&str>) -> Vec<String> {
        let probe = match section {
            Some(s) => format!("[{s}]\nzz_probe = 1\n"),
            None => "zz_probe = 1\n".to_owned(),
        };
        let err = match toml::from_str::<Config>(&probe) {
            Ok(_) => panic!("zz_probe was accepted"),
            Err(e) => e.to_string(),
        };
        let list = err.split("expected one of").nth(1).unwrap_or_else(|| {
            err.split("expected")
                .nth(1)
                .unwrap_or_else(|| panic!("{err}"))
        });
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    /// docs/CONFIGURATION.md documents every key: its table has a row for each, and
    /// its example file holds each (and parses with the real types, so a key that
    /// does not exist, or a value of the wrong type, fails here too).
    #[test]
    fn docs_configuration_md_documents_every_key() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CONFIGURATION.md");
        let page = std::fs::read_to_string(&path).unwrap();
        let blocks: Vec<&str> = page
            .split("```toml\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap_or(""))
            .collect();
        assert_eq!(blocks.len(), 1, "one ```toml example on the page");
        let example = blocks[0];
        let parsed: Result<Config, _> = toml::from_str(example);
        assert!(
            parsed.is_ok(),
            "the example does not load: {:?}",
            parsed.err().map(|e| e.to_string())
        );
        let table: toml::Table = toml::from_str(example).unwrap();
        let mut missing = Vec::new();
        for section in [
            None,
            Some("ghl"),
            Some("lofty"),
            Some("worker"),
            Some("intake"),
            Some("server"),
            Some("admin"),
        ] {
            let fields = fields_of(section);
            assert!(!fields.is_empty(), "{section:?}");
            for f in fields {
                if section.is_none()
                    && ["ghl", "lofty", "worker", "intake", "server", "admin"].contains(&f.as_str())
                {
                    continue;
                }
                let (row, present) = match section {
                    Some(s) => (
                        format!("`{s}.{f}`"),
                        table.get(s).and_then(|t| t.get(&f)).is_some(),
                    ),
                    None => (format!("`{f}`"), table.contains_key(&f)),
                };
                if !present || !page.contains(&format!("| {row} |")) {
                    missing.push(row);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "docs/CONFIGURATION.md lacks a table row or an example line for: {missing:?}"
        );
    }
}
