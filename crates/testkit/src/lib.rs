//! ghlsync's test kit (dev only): one way for every integration test to get a
//! running ghlsync against the sandbox, instead of wiring the app again in each test
//! binary (zero2prod's `tests/api/helpers.rs`).
//!
//! - [`spawn_app`] / [`spawn_app_with`]: the sandbox (GHL, Lofty, Lytho), a store
//!   on SQLite or PostgreSQL, the server on port 0 (built by the same
//!   [`ghlsync::Application::build`] as `ghlsync up`) and a worker the test drains
//!   ([`TestApp::drain`]) instead of sleeping.
//! - [`spawn_app_configured`]: the same with the configuration tuned first;
//!   [`TestApp::second_instance`] serves another instance on the same database and
//!   [`TestApp::worker_with`] builds another worker on it.
//! - [`TestApp`] helpers: connect a GHL location (PIT, or OAuth through the real
//!   consent flow over HTTP), a Lofty key and a Lytho client; post a signed GHL
//!   webhook; call the sandbox's controls.
//! - PostgreSQL for tests ([`pg`]): the URL from `GHLSYNC_DATABASE_URL`; in CI
//!   (`CI=true`) a missing or unreachable PostgreSQL fails the test, elsewhere it is
//!   skipped with one line on stderr. Each test gets its own schema.

// Test code: these clients play the browser and call the sandbox controls; they are
// not product calls, and must not follow the factory's no-redirect policy blindly.
#![allow(clippy::disallowed_methods)]

pub mod browser;
pub mod calls;
pub mod pg;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
/// The application's configuration, for [`spawn_app_configured`] and
/// [`TestApp::worker_with`] (so a test binary need not depend on `ghlsync`).
pub use calls::Calls;
use ed25519_dalek::Signer;
use engine::{Connectors, Worker, WorkerStats};
pub use ghlsync::Config;
use sandbox::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use store::{Keyring, MasterKey, Store, StoreOptions};

/// The admin token of every test app.
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// The password of the accounts tests create.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Whether this is CI (`CI=true`), where nothing may be skipped.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether this is a soak run (`./scripts/test.sh --soak` sets `GHLSYNC_SOAK=1`):
/// the long tests then keep the sandboxes' real rate limits (GHL 100 requests per
/// 10 s per location, Lofty 100 a minute per credential) instead of lifting them,
/// and wait as long as those limits make them take.
pub fn soak() -> bool {
    std::env::var("GHLSYNC_SOAK").as_deref() == Ok("1")
}

/// How much longer a test's waits are in a soak run.
pub fn soak_factor() -> u32 {
    if soak() { 30 } else { 1 }
}

/// A name unique to this process and call: lower case, usable as a schema name.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}_{}_{n}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// A fresh directory under the system's temp dir.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A random master key: its hex (for `GHLSYNC_MASTER_KEY` of child processes) and
/// the keyring.
pub fn master_key() -> (String, Keyring) {
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    (hex, Keyring::new(MasterKey::from_bytes(bytes)))
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store for one test, in its own directory (and schema).
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    pub options: StoreOptions,
    pub dir: PathBuf,
    /// The `postgres://` URL with this test's schema as search path (for child
    /// processes and the application); `None` on SQLite.
    pub url: Option<String>,
}

/// A fresh store on `backend`, or `None` when PostgreSQL is not available outside CI.
pub async fn test_store(backend: Backend, keyring: Keyring) -> Option<TestStore> {
    let dir = temp_dir("ghlsync_test");
    match backend {
        Backend::Sqlite => {
            let options = StoreOptions::sqlite(&dir);
            let store = Store::open_with_keyring(&options, keyring)
                .await
                .expect("open the SQLite store");
            Some(TestStore {
                store,
                options,
                dir,
                url: None,
            })
        }
        Backend::Postgres => {
            let db = pg::database().await?;
            let mut options = StoreOptions::postgres(&db.base_url, &dir);
            options.pg_schema = Some(db.schema.clone());
            options.max_connections = 4;
            let store = Store::open_with_keyring(&options, keyring)
                .await
                .expect("open the PostgreSQL store");
            Some(TestStore {
                store,
                options,
                dir,
                url: Some(db.url),
            })
        }
    }
}

impl TestStore {
    /// Closes the store and removes its directory and, on PostgreSQL, its schema.
    /// Call it at the end of a test that passed: a failing test leaves both behind
    /// as evidence.
    pub async fn remove(self) {
        self.store.close().await;
        if let (Some(url), Some(schema)) = (&self.options.database_url, &self.options.pg_schema) {
            pg::drop_schema(url, schema).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Connects location `index` of `sandbox` over OAuth with exactly `scope`, without
/// the consent page: a code from the sandbox's `/_sandbox/oauth/code`, exchanged and
/// stored as the OAuth callback stores it. For tests that need particular scopes, or
/// that have a store but no running app (child processes do the work). As on the
/// consent page, the first code for a location installs the app there (an INSTALL
/// webhook). Returns the connection id (`ghl:<location>`).
pub async fn connect_ghl_oauth_code(
    store: &Store,
    sandbox: &Sandbox,
    index: usize,
    scope: &str,
) -> String {
    let ghl = &sandbox.info().ghl;
    let code: Value = sandbox::ghl::http_client()
        .post(format!("{}/_sandbox/oauth/code", ghl.base_url))
        .json(&json!({"location_id": ghl.locations[index].id, "scope": scope}))
        .send()
        .await
        .expect("/_sandbox/oauth/code")
        .json()
        .await
        .expect("JSON");
    let app = engine::GhlApp {
        client_id: ghl.client_id.clone(),
        client_secret: SecretString::from(ghl.client_secret.clone()),
        api_base: url::Url::parse(&ghl.base_url).expect("a URL"),
    };
    let tokens = engine::apps::oauth_app(&app, "")
        .exchange_code(code["code"].as_str().expect("a code"), None)
        .await
        .expect("the code exchanges");
    let ids = engine::connections::store_oauth_tokens(store, &app, &tokens)
        .await
        .expect("store the tokens");
    assert_eq!(ids.len(), 1, "a location token makes one connection");
    ids.into_iter().next().unwrap_or_default()
}

/// What to spawn.
#[derive(Debug, Clone)]
pub struct Spec {
    pub backend: Backend,
    pub sandbox: SandboxConfig,
    /// Run the worker in the background (default: no; tests call [`TestApp::drain`]).
    pub run_worker: bool,
    /// Configure the sandbox's Lofty vendor app (Lofty OAuth).
    pub lofty_oauth: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
            sandbox: SandboxConfig {
                contacts_per_location: 3,
                ..SandboxConfig::default()
            },
            run_worker: false,
            lofty_oauth: true,
        }
    }
}

impl Spec {
    #[must_use]
    pub fn on(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }
}

/// A running ghlsync with its sandbox.
#[derive(Debug)]
pub struct TestApp {
    pub sandbox: Sandbox,
    /// `http://127.0.0.1:<port>` of the server.
    pub address: String,
    pub store: Store,
    pub worker: Worker,
    /// The configuration the app was built from (addresses resolved).
    pub config: Config,
    /// An HTTP client that does not follow redirects (to see them).
    pub http: reqwest::Client,
    pub dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// SQLite, default sandbox, no background worker.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Spec::default())
        .await
        .expect("SQLite is always available")
}

/// `None` only when `spec` asks for PostgreSQL and it is not available outside CI.
pub async fn spawn_app_with(spec: Spec) -> Option<TestApp> {
    spawn_app_configured(spec, |_| {}).await
}

/// As [`spawn_app_with`], with the configuration changed by `tune` before the app is
/// built: for a test that needs what a user would configure (`ghl.scopes`, no GHL
/// app, `worker.refresh_ahead_secs`). The addresses are resolved after `tune`.
pub async fn spawn_app_configured(spec: Spec, tune: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let dir = temp_dir("ghlsync_app");
    let database_url = match spec.backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(pg::database().await?.url),
    };
    let sandbox = Sandbox::start(spec.sandbox.clone())
        .await
        .expect("the sandbox starts");
    let mut config = config_for(&sandbox, &dir, database_url, spec.lofty_oauth);
    tune(&mut config);
    let app = ghlsync::Application::build(&config, app_options(spec.run_worker))
        .await
        .expect("the application builds");
    let address = format!("http://{}", app.address());
    let store = app.store().clone();
    let worker = app.worker().clone();
    let config = app.config().clone();
    let (stop, served) = serve(app);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let test = TestApp {
        sandbox,
        address,
        store,
        worker,
        config,
        http,
        dir,
        stop: Some(stop),
        served: Some(served),
    };
    // The sandbox sends its signed webhooks to this app's intake.
    test.sandbox_control(
        "/_sandbox/webhooks",
        json!({"url": format!("{}/webhooks/ghl", test.address)}),
    )
    .await;
    Some(test)
}

/// How the kit builds an application: port 0, a worker that idles 20 ms, running in
/// the background only when `run_worker`.
fn app_options(run_worker: bool) -> ghlsync::AppOptions {
    ghlsync::AppOptions {
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        run_worker,
        worker: worker_options(None),
    }
}

fn worker_options(id: Option<&str>) -> ghlsync::WorkerOptions {
    ghlsync::WorkerOptions {
        id: id.map(str::to_owned),
        idle: Some(std::time::Duration::from_millis(20)),
        ..ghlsync::WorkerOptions::default()
    }
}

type Served = tokio::task::JoinHandle<anyhow::Result<()>>;

/// Serves `app` in the background until the returned sender fires (or drops).
fn serve(app: ghlsync::Application) -> (tokio::sync::oneshot::Sender<()>, Served) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    (stop_tx, served)
}

/// Another server instance on a [`TestApp`]'s database (see
/// [`TestApp::second_instance`]): a restart, or a replica behind a load balancer.
#[derive(Debug)]
pub struct Instance {
    /// `http://127.0.0.1:<port>` of this instance (its own listener; the public URL
    /// it hands out is the first app's).
    pub address: String,
    /// This instance's own store handle (its own pool) on the shared database.
    pub store: Store,
    /// This instance's worker (not running; drain it by hand).
    pub worker: Worker,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<Served>,
}

impl Instance {
    /// Stops this instance's server and closes its store handle (the first app and
    /// the database are untouched).
    pub async fn shutdown(mut self) {
        stop_serving(&mut self.stop, &mut self.served, &self.store).await;
    }
}

/// The configuration `ghlsync up` would make for this sandbox, in `dir`.
pub fn config_for(
    sandbox: &Sandbox,
    dir: &Path,
    database_url: Option<String>,
    lofty_oauth: bool,
) -> Config {
    let ghl = &sandbox.info().ghl;
    let lofty = &sandbox.info().lofty;
    let mut config = Config::default();
    config.data_dir = Some(dir.to_path_buf());
    config.database_url = database_url;
    config.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.admin_token = Some(ADMIN_TOKEN.to_owned());
    config.ghl.base_url = Some(ghl.base_url.clone());
    config.ghl.auth_base = Some(ghl.base_url.clone());
    config.ghl.client_id = Some(ghl.client_id.clone());
    config.ghl.client_secret = Some(ghl.client_secret.clone());
    config.ghl.webhook_public_key = Some(ghl.webhook_public_key.clone());
    config.lofty.base_url = Some(lofty.base_url.clone());
    // Lytho connected from the admin UI reaches the sandbox's tenant, as under `up`.
    let lytho = &sandbox.info().lytho;
    config.sandbox_lytho = Some(ghlsync::config::SandboxLytho {
        base_url: lytho.base_url.clone(),
        token_url: lytho.token_url.clone(),
        client_id: lytho.client_id.clone(),
    });
    if lofty_oauth {
        config.lofty.client_id = Some(lofty.client_id.clone());
        config.lofty.client_secret = Some(lofty.client_secret.clone());
        config.lofty.token_url = Some(lofty.token_url.clone());
        config.lofty.authorize_url = Some(format!("{}/page/vendor-auth.html", lofty.base_url));
    }
    config
}

impl TestApp {
    /// Runs ready jobs until none is left (jobs scheduled later are not waited for).
    pub async fn drain(&self) -> WorkerStats {
        self.worker.drain().await.expect("the queue drains")
    }

    /// Drains until no job is queued or running, waiting in real time for jobs
    /// that wait (a 429's `Retry-After` under the real limits of a soak run).
    pub async fn drain_all(&self, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            self.drain().await;
            let s = self.store.queue_stats().await.expect("queue stats");
            if s.queued == 0 && s.running == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the queue did not drain in {limit:?}: {s:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// A second `ghlsync` instance on this app's database, built by
    /// [`ghlsync::Application::build`] from the same configuration (same data dir,
    /// master key, admin token, OAuth apps and public URL, as replicas behind one
    /// load balancer share them) on its own port 0 listener, with its own store
    /// pool. For tests of what must hold across instances: sessions, connect flows,
    /// single use.
    pub async fn second_instance(&self) -> Instance {
        let app = ghlsync::Application::build(&self.config, app_options(false))
            .await
            .expect("the second instance builds");
        let address = format!("http://{}", app.address());
        let store = app.store().clone();
        let worker = app.worker().clone();
        let (stop, served) = serve(app);
        Instance {
            address,
            store,
            worker,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// Another queue worker on this app's store, built as `ghlsync worker` builds
    /// one from this app's configuration changed by `tune` (e.g.
    /// `worker.refresh_ahead_secs`, `public_url`), with its own `id` and a 20 ms idle
    /// pause. Not running: drain it, or `run` it in a task.
    pub fn worker_with(&self, id: &str, tune: impl FnOnce(&mut Config)) -> Worker {
        let mut config = self.config.clone();
        tune(&mut config);
        ghlsync::startup::worker(&config, self.store.clone(), &worker_options(Some(id)))
            .expect("the worker builds")
    }

    /// Opens stored connections as the worker does.
    pub fn connectors(&self) -> &Connectors {
        self.worker.connectors()
    }

    /// The GHL sandbox's base URL.
    pub fn ghl_base(&self) -> String {
        self.sandbox.ghl_base_url()
    }

    /// Location `index` of the sandbox's company.
    pub fn location(&self, index: usize) -> &sandbox::LocationInfo {
        &self.sandbox.info().ghl.locations[index]
    }

    /// Connects location `index` with its Private Integration Token (every scope
    /// unless `scopes` narrows them). Returns the connection id.
    pub async fn connect_ghl_pit(&self, index: usize, scopes: &str) -> String {
        let loc = self.location(index);
        let base = url::Url::parse(&self.ghl_base()).expect("a URL");
        engine::connections::connect_pit(
            &self.store,
            &base,
            &loc.id,
            &SecretString::from(loc.token.clone()),
            scopes,
        )
        .await
        .expect("connect the PIT")
    }

    /// Connects location `index` through the OAuth flow over HTTP, as the CLI does:
    /// `/connect/ghl`, the sandbox's consent page, the callback. Returns the
    /// connection ids the callback made.
    pub async fn connect_ghl_oauth(&self, index: usize) -> Vec<String> {
        let (authorize, flow) = self.start_connect(false).await;
        let callback = self.consent(&authorize, &self.location(index).id).await;
        let resp = self.http.get(&callback).send().await.expect("callback");
        assert!(
            resp.status().is_success(),
            "the callback connects: {}",
            resp.text().await.unwrap_or_default()
        );
        let status = self.connect_status(&flow).await;
        status["connections"]
            .as_array()
            .expect("connected")
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Starts a GHL connect flow as the CLI does (bearer token, JSON): the consent
    /// URL and the flow's state.
    pub async fn start_connect(&self, agency: bool) -> (String, String) {
        let url = format!(
            "{}/connect/ghl{}",
            self.address,
            if agency { "?user_type=company" } else { "" }
        );
        let body: Value = self
            .http
            .get(url)
            .header("accept", "application/json")
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("/connect/ghl")
            .json()
            .await
            .expect("JSON");
        (
            body["authorize_url"].as_str().expect("a URL").to_owned(),
            body["state"].as_str().expect("a state").to_owned(),
        )
    }

    /// Where a connect flow stands (`/connect/status/<state>`).
    pub async fn connect_status(&self, flow: &str) -> Value {
        self.http
            .get(format!("{}/connect/status/{flow}", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("JSON")
    }

    /// Plays the user on the sandbox's GHL consent page: picks `choice` and allows.
    /// Returns the callback URL GHL redirects to.
    pub async fn consent(&self, authorize_url: &str, choice: &str) -> String {
        let page = self
            .http
            .get(authorize_url)
            .send()
            .await
            .expect("consent page")
            .text()
            .await
            .expect("text");
        let action = attr(&page, "form method=\"post\" action=\"", "\"");
        let mut form: Vec<(String, String)> = page
            .split("<input type=\"hidden\" ")
            .skip(1)
            .map(|chunk| {
                (
                    attr(chunk, "name=\"", "\""),
                    attr(chunk, "value=\"", "\"").replace("&amp;", "&"),
                )
            })
            .collect();
        form.push(("location_id".to_owned(), choice.to_owned()));
        let resp = self
            .http
            .post(format!("{}{action}", self.ghl_base()))
            .form(&form)
            .send()
            .await
            .expect("consent");
        assert!(
            resp.status().is_redirection(),
            "consent answers a redirect: {}",
            resp.status()
        );
        resp.headers()["location"]
            .to_str()
            .expect("a location")
            .to_owned()
    }

    /// Creates an admin account `name` (password [`ADMIN_PASSWORD`]) with `role`.
    pub async fn add_user(&self, name: &str, role: store::Role) {
        let hash = server::accounts::hash_password(ADMIN_PASSWORD).expect("hash");
        self.store
            .put_admin_user(name, role, &hash)
            .await
            .expect("account");
    }

    /// Drains until `done` holds, moving the store's clock past retry waits (at
    /// most 20 s of real time, then it fails naming `what`).
    pub async fn drain_until(&self, what: &str, mut done: impl AsyncFnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            self.drain().await;
            if done().await {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            self.store.advance_clock(std::time::Duration::from_secs(3));
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Creates a Lofty lead with `email` and drains until the contacts flow `flow`
    /// has linked it to a GHL contact: (lead id, contact id).
    pub async fn linked_person(&self, flow: &str, email: &str) -> (i64, String) {
        let lead = self
            .lofty_client()
            .create_lead(&lofty::models::CreateLead {
                first_name: "Review".to_owned(),
                emails: Some(vec![email.to_owned()]),
                ..Default::default()
            })
            .await
            .expect("the lead");
        let pair = async || {
            self.store
                .pair(flow, "right", &lead.to_string())
                .await
                .expect("store")
        };
        self.drain_until("the pair", async || pair().await.is_some())
            .await;
        self.drain().await;
        (lead, pair().await.expect("linked").left_id)
    }

    /// An admin page's HTML as the session `cookie` sees it.
    pub async fn page_as(&self, path: &str, cookie: &str) -> String {
        self.http
            .get(format!("{}{path}", self.address))
            .header("cookie", cookie)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("text")
    }

    /// Logs in on the admin page as an admin (created on first use): the session
    /// cookie (`name=value`).
    pub async fn login(&self) -> String {
        if self
            .store
            .admin_user("admin")
            .await
            .expect("store")
            .is_none()
        {
            self.add_user("admin", store::Role::Admin).await;
        }
        self.login_as("admin").await
    }

    /// Logs in as `name` (password [`ADMIN_PASSWORD`]): the session cookie.
    pub async fn login_as(&self, name: &str) -> String {
        let login = self
            .http
            .post(format!("{}/login", self.address))
            .form(&[("name", name), ("password", ADMIN_PASSWORD), ("next", "/")])
            .send()
            .await
            .expect("login");
        assert!(
            login.status().is_redirection(),
            "login as {name}: {}",
            login.status()
        );
        login.headers()["set-cookie"]
            .to_str()
            .expect("a cookie")
            .split(';')
            .next()
            .expect("name=value")
            .to_owned()
    }

    /// Starts a flow from the admin page with a session `cookie` and consents to
    /// `location`: the callback URL GHL redirects to.
    pub async fn browser_consent(&self, cookie: &str, location: &str) -> String {
        let resp = self
            .http
            .get(format!("{}/connect/ghl", self.address))
            .header("cookie", cookie)
            .send()
            .await
            .expect("/connect/ghl");
        let authorize = resp.headers()["location"]
            .to_str()
            .expect("a redirect")
            .to_owned();
        self.consent(&authorize, location).await
    }

    /// Connects the sandbox's Lofty owner with their API key. Returns the id.
    pub async fn connect_lofty_key(&self) -> String {
        let lofty = &self.sandbox.info().lofty;
        engine::connections::connect_lofty_key(
            &self.store,
            &url::Url::parse(&lofty.base_url).expect("a URL"),
            &SecretString::from(lofty.api_key.clone()),
        )
        .await
        .expect("connect Lofty")
    }

    /// Connects the sandbox's Lytho tenant with its client credentials. Returns the id.
    pub async fn connect_lytho(&self) -> String {
        let lytho = &self.sandbox.info().lytho;
        let account = engine::connections::LythoAccount {
            base_url: url::Url::parse(&lytho.base_url).expect("a URL"),
            token_url: url::Url::parse(&lytho.token_url).expect("a URL"),
            client_id: lytho.client_id.clone(),
            client_secret: SecretString::from(lytho.client_secret.clone()),
        };
        engine::connections::connect_lytho(&self.store, &account)
            .await
            .expect("connect Lytho")
    }

    /// A Lofty client on the sandbox's account (its API key), as a user's script
    /// would have.
    pub fn lofty_client(&self) -> lofty::LoftyClient {
        let info = &self.sandbox.info().lofty;
        lofty::LoftyClient::new(
            lofty::LoftyConfig::api_key(SecretString::from(info.api_key.clone()))
                .with_base_url(url::Url::parse(&info.base_url).expect("a URL")),
        )
        .expect("a Lofty client")
    }

    /// Connects location 0 (a PIT that reads and writes contacts) and the Lofty
    /// account, runs the subscribe job, and enables the Lofty <-> GHL contacts
    /// recipe between them. Returns (GHL connection, Lofty connection, flow).
    pub async fn enable_contacts_sync(&self) -> (String, String, store::FlowRow) {
        let ghl = self
            .connect_ghl_pit(
                0,
                "contacts.readonly contacts.write locations/customFields.readonly",
            )
            .await;
        let lofty = self.connect_lofty_key().await;
        self.drain().await;
        let flow =
            engine::sync::enable_recipe(self.connectors(), "lofty-ghl-contacts", &ghl, &lofty)
                .await
                .expect("the recipe enables");
        (ghl, lofty, flow)
    }

    /// The Lofty connection's webhook URL (connecting the sandbox account).
    pub async fn lofty_webhook_url(&self) -> String {
        let conn = self.connect_lofty_key().await;
        let key = self.store.webhook_key(&conn).await.expect("a webhook key");
        format!("{}/webhooks/lofty/{}", self.address, store::expose(&key))
    }

    /// Posts a JSON body to `url`.
    pub async fn post_json(&self, url: &str, body: Vec<u8>) -> reqwest::Response {
        self.http
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post")
    }

    /// Posts `body` to `/webhooks/ghl`, signed with the sandbox's key as GHL signs.
    pub async fn post_ghl_webhook(&self, body: &Value) -> reqwest::Response {
        self.signed_ghl_webhook(body)
            .send()
            .await
            .expect("post the webhook")
    }

    /// The request [`TestApp::post_ghl_webhook`] sends, not sent yet (to time it, or
    /// send it from a task).
    pub fn signed_ghl_webhook(&self, body: &Value) -> reqwest::RequestBuilder {
        let bytes = serde_json::to_vec(body).expect("JSON");
        let key = self
            .sandbox
            .ghl()
            .with_world(|w| sandbox::ghl::webhooks::signing_key(&w.webhook_key_seed));
        let signature =
            base64::engine::general_purpose::STANDARD.encode(key.sign(&bytes).to_bytes());
        self.http
            .post(format!("{}/webhooks/ghl", self.address))
            .header("content-type", "application/json")
            .header("x-ghl-signature", signature)
            .body(bytes)
    }

    /// Stops the sandbox's GHL webhooks to this app (`DELETE /_sandbox/webhooks`), for
    /// tests whose queue must hold only the jobs they enqueue: otherwise a contact
    /// created or an app installed in the sandbox adds a `ghl.event` job whenever its
    /// delivery lands.
    pub async fn stop_ghl_webhooks(&self) {
        let resp = self
            .http
            .delete(format!("{}/_sandbox/webhooks", self.ghl_base()))
            .send()
            .await
            .expect("DELETE /_sandbox/webhooks");
        assert!(resp.status().is_success(), "{}", resp.status());
    }

    /// POSTs to a GHL sandbox control (`/_sandbox/...`) and returns its JSON.
    pub async fn sandbox_control(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}{path}", self.ghl_base()))
            .json(&body)
            .send()
            .await
            .expect("sandbox control")
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    /// Stops the server and the sandbox.
    pub async fn shutdown(mut self) {
        stop_serving(&mut self.stop, &mut self.served, &self.store).await;
        self.sandbox.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stops a server started in the background, waits for it, closes its store handle.
async fn stop_serving(
    stop: &mut Option<tokio::sync::oneshot::Sender<()>>,
    served: &mut Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    store: &Store,
) {
    if let Some(stop) = stop.take() {
        let _ = stop.send(());
    }
    if let Some(served) = served.take() {
        let _ = served.await;
    }
    store.close().await;
}

/// The text between `start` and the next `end` in `page` (empty when absent).
pub fn attr(page: &str, start: &str, end: &str) -> String {
    page.split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_default()
}
