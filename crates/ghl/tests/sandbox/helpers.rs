//! Shared fixtures: an in-process sandbox, clients for its locations, `/_sandbox/`
//! controls and bounded polling.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ghl::models::{Contact, CreateContact};
use ghl::{GhlClient, GhlConfig, GhlError, OAuthApp, RetryClass};
use reqwest::Method;
use sandbox::{GhlInfo, LocationInfo, RateLimitConfig, Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

/// Redirect URI used by every OAuth test.
pub const REDIRECT_URI: &str = "http://localhost/cb";

/// A sandbox and clients for its first two locations (`a` and `b`).
#[derive(Debug)]
pub struct Ctx {
    pub sandbox: Sandbox,
    pub info: GhlInfo,
    /// `http://127.0.0.1:<port>/`.
    pub base: Url,
    /// A plain HTTP client (no redirects) for `/_sandbox/` controls and raw requests.
    pub http: reqwest::Client,
    pub a: LocationInfo,
    pub b: LocationInfo,
    /// Client with location A's all-scopes PIT.
    pub client: GhlClient,
    /// Client with location B's all-scopes PIT.
    pub client_b: GhlClient,
}

/// The default test sandbox: 2 locations, 5 seeded contacts each, limits far away,
/// webhook retries after 50 ms.
pub fn config() -> SandboxConfig {
    SandboxConfig {
        contacts_per_location: 5,
        locations: 2,
        rate: RateLimitConfig {
            window: Duration::from_secs(10),
            max_per_window: 1_000_000,
            daily: 100_000_000,
        },
        webhook_retry_delay: Duration::from_millis(50),
        ..SandboxConfig::default()
    }
}

/// Starts a sandbox with [`config`].
pub async fn spawn() -> Ctx {
    spawn_with(config()).await
}

/// Starts a sandbox with the given config.
pub async fn spawn_with(config: SandboxConfig) -> Ctx {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let info = sandbox.info().ghl.clone();
    let base = Url::parse(&sandbox.ghl_base_url()).expect("base URL");
    assert_eq!(info.base_url, sandbox.ghl_base_url());
    let http = ghl::http::http_client(Duration::from_secs(10));
    let a = info.locations[0].clone();
    let b = info.locations[1].clone();
    let client = client_for(&base, &a.token, &a.id);
    let client_b = client_for(&base, &b.token, &b.id);
    Ctx {
        sandbox,
        info,
        base,
        http,
        a,
        b,
        client,
        client_b,
    }
}

/// A client for `base` with `token`, paced under `location_id`.
pub fn client_for(base: &Url, token: &str, location_id: &str) -> GhlClient {
    let config = GhlConfig::new(SecretString::from(token.to_owned()))
        .with_base_url(base.clone())
        .with_location(location_id)
        .with_timeout(Duration::from_secs(10));
    GhlClient::new(config).expect("client")
}

impl Ctx {
    /// `{base}{path}`.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("valid path")
    }

    /// A raw request to the sandbox; returns the status and the JSON body (`null` if
    /// the body is not JSON).
    pub async fn raw(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("sandbox answers");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A `/_sandbox/` control call that must succeed.
    pub async fn ctl(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.raw(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    /// `POST /_sandbox/...`.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.ctl(Method::POST, path, Some(body)).await
    }

    /// `GET /_sandbox/...`.
    pub async fn get(&self, path: &str) -> Value {
        self.ctl(Method::GET, path, None).await
    }

    /// `DELETE /_sandbox/...`.
    pub async fn delete(&self, path: &str) -> Value {
        self.ctl(Method::DELETE, path, None).await
    }

    /// A PIT of `location_id` with only the given space-separated scopes.
    pub async fn pit(&self, location_id: &str, scope: &str) -> String {
        let out = self
            .post(
                "/_sandbox/pit",
                json!({"location_id": location_id, "scope": scope}),
            )
            .await;
        out["token"].as_str().expect("token").to_owned()
    }

    /// An authorization code for `target` (a location id or the company id).
    pub async fn code(&self, target: &str, scope: &str) -> String {
        let out = self
            .post(
                "/_sandbox/oauth/code",
                json!({"location_id": target, "scope": scope, "redirect_uri": REDIRECT_URI}),
            )
            .await;
        out["code"].as_str().expect("code").to_owned()
    }

    /// The sandbox's marketplace app, with both hosts pointing at the sandbox.
    pub fn oauth_app(&self) -> OAuthApp {
        OAuthApp::new(
            self.info.client_id.clone(),
            SecretString::from(self.info.client_secret.clone()),
            REDIRECT_URI,
        )
        .with_api_base(self.base.clone())
        .with_auth_base(self.base.clone())
    }

    /// A client with another token, paced under `location_id`.
    pub fn client_with(&self, token: &str, location_id: &str) -> GhlClient {
        client_for(&self.base, token, location_id)
    }

    /// `GET /_sandbox/counters` entry of one location (or company, or
    /// `unauthenticated`); `null` when nothing was counted.
    pub async fn counter(&self, key: &str) -> Value {
        let all = self.get("/_sandbox/counters").await;
        all["locations"][key].clone()
    }

    /// Reads the emulator's world directly (for state the API does not expose).
    pub fn world<T>(&self, f: impl FnOnce(&sandbox::ghl::state::World) -> T) -> T {
        self.sandbox.ghl().with_world(f)
    }

    /// Ids of the contacts stored in a location, in insertion order.
    pub fn contact_ids(&self, location_id: &str) -> Vec<String> {
        self.world(|w| w.locations[location_id].contacts.keys().cloned().collect())
    }

    /// Creates a contact in location A with a unique email.
    pub async fn new_contact(&self, first_name: &str) -> Contact {
        new_contact(&self.client, &self.a.id, first_name).await
    }

    /// Stops the sandbox.
    pub async fn shutdown(self) {
        let Self {
            sandbox,
            client,
            client_b,
            http,
            ..
        } = self;
        drop((client, client_b, http));
        sandbox.shutdown().await;
    }
}

/// Creates a contact with a unique email in `location_id`.
pub async fn new_contact(client: &GhlClient, location_id: &str, first_name: &str) -> Contact {
    let email = unique_email(first_name);
    let contact = client
        .create_contact(&CreateContact {
            location_id: location_id.to_owned(),
            first_name: Some(first_name.to_owned()),
            last_name: Some("Tester".to_owned()),
            email: Some(email.clone()),
            ..Default::default()
        })
        .await
        .expect("create contact");
    assert_eq!(contact.email.as_deref(), Some(email.as_str()));
    contact
}

/// An email no other test uses.
pub fn unique_email(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}.{n}@it.example.com", tag.to_lowercase())
}

/// Polls `f` every 10 ms until it yields `Some`, failing after `timeout`.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts an API error: status, retry class and (part of) the server message.
pub fn assert_api_error(err: &GhlError, status: u16, class: RetryClass, message: &str) {
    assert_eq!(err.status(), Some(status), "{err}");
    assert_eq!(err.retry_class(), class, "{err}");
    let got = err.server_message().unwrap_or_default();
    assert!(got.contains(message), "expected {message:?} in {got:?}");
}
