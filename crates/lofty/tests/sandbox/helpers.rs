//! Shared fixtures: an in-process sandbox, clients for its credentials, `/_sandbox/`
//! controls, a webhook receiver and bounded polling.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lofty::models::{CreateLead, Lead};
use lofty::{LoftyClient, LoftyConfig, LoftyError, RetryClass};
use reqwest::Method;
use sandbox::{LoftyInfo, Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

/// A sandbox and clients for its Lofty credentials.
#[derive(Debug)]
pub struct Ctx {
    pub sandbox: Sandbox,
    pub info: LoftyInfo,
    /// `http://127.0.0.1:<port>/` of the Lofty emulator.
    pub base: Url,
    /// A plain HTTP client for controls and raw requests.
    pub http: reqwest::Client,
    /// The owner's personal API key.
    pub client: LoftyClient,
    /// The owner's OAuth token.
    pub oauth: LoftyClient,
    /// A plain agent's personal API key.
    pub agent: LoftyClient,
}

/// The default test sandbox: 10 seeded contacts per GHL location, so 10 Lofty leads.
pub fn config() -> SandboxConfig {
    SandboxConfig {
        contacts_per_location: 10,
        locations: 1,
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
    let info = sandbox.info().lofty.clone();
    let base = Url::parse(&info.base_url).expect("base URL");
    let http = wire::http::http_client(Duration::from_secs(10));
    let client = key_client(&base, &info.api_key);
    let oauth = oauth_client(&base, &info.oauth_token);
    let agent = key_client(&base, &info.agent_api_key);
    Ctx {
        sandbox,
        info,
        base,
        http,
        client,
        oauth,
        agent,
    }
}

/// A client sending `Authorization: token <key>`.
pub fn key_client(base: &Url, key: &str) -> LoftyClient {
    let config = LoftyConfig::api_key(SecretString::from(key.to_owned()))
        .with_base_url(base.clone())
        .with_timeout(Duration::from_secs(10));
    LoftyClient::new(config).expect("client")
}

/// A client sending `Authorization: Bearer <token>`.
pub fn oauth_client(base: &Url, token: &str) -> LoftyClient {
    let config = LoftyConfig::oauth(SecretString::from(token.to_owned()))
        .with_base_url(base.clone())
        .with_timeout(Duration::from_secs(10));
    LoftyClient::new(config).expect("client")
}

impl Ctx {
    /// `{base}{path}`.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("valid path")
    }

    /// A raw request; returns the status and the JSON body (`null` if not JSON).
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

    /// `POST /_sandbox/config`.
    pub async fn config(&self, body: Value) -> Value {
        self.post("/_sandbox/config", body).await
    }

    /// The owner's `memberUserId`.
    pub fn owner(&self) -> i64 {
        self.info.member_user_ids[0]
    }

    /// Ids of the seeded leads, in seed order.
    pub fn lead_ids(&self) -> Vec<i64> {
        self.sandbox
            .lofty()
            .with_world(|w| w.leads.keys().copied().collect())
    }

    /// Creates a lead with a unique email and waits until it can be read.
    pub async fn new_lead(&self, first_name: &str) -> Lead {
        new_lead(&self.client, first_name).await
    }

    /// Stops the sandbox.
    pub async fn shutdown(self) {
        let Self { sandbox, .. } = self;
        sandbox.shutdown().await;
    }
}

/// Creates a lead with a unique email through `client` and reads it back.
pub async fn new_lead(client: &LoftyClient, first_name: &str) -> Lead {
    let email = unique_email(first_name);
    let id = client
        .create_lead(&CreateLead {
            last_name: Some("Tester".to_owned()),
            emails: Some(vec![email.clone()]),
            ..CreateLead::new(first_name)
        })
        .await
        .expect("create lead");
    let lead = client
        .get_lead_eventually(id, Duration::from_secs(5))
        .await
        .expect("lead readable");
    assert_eq!(lead.email(), Some(email.as_str()));
    lead
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

/// Asserts an API error: status, Lofty code, retry class.
pub fn assert_api_error(err: &LoftyError, status: u16, code: &str, class: RetryClass) {
    assert_eq!(err.status(), Some(status), "{err}");
    let got = err.code().map(ToString::to_string).unwrap_or_default();
    assert_eq!(got, code, "{err}");
    assert_eq!(err.retry_class(), class, "{err}");
}

/// A local webhook receiver: every POST body to `/hook/<secret>` is kept.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    pub async fn start() -> Self {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let kept = bodies.clone();
        let app = axum::Router::new().route(
            "/hook/s3cret",
            axum::routing::post(move |body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    kept.lock().unwrap().push(value);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook/s3cret"),
            bodies,
        }
    }

    /// Deliveries received so far.
    pub fn received(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// The `_sandbox` counters of one caller.
pub async fn counter(ctx: &Ctx, caller: &str) -> Value {
    ctx.get("/_sandbox/counters").await["callers"][caller].clone()
}

/// `{"leads": N}` seeded more.
pub async fn seed(ctx: &Ctx, leads: usize) -> Value {
    ctx.post("/_sandbox/seed", json!({"leads": leads})).await
}
