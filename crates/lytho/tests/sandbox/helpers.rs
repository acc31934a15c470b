//! Shared fixtures: an in-process sandbox, a client for its Lytho tenant,
//! `/_sandbox/` controls on the Lytho port, and assertions on errors.

use std::time::Duration;

use lytho::{LythoClient, LythoConfig, LythoError, RetryClass};
use reqwest::Method;
use sandbox::{LythoInfo, Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

/// A running sandbox and a client for its Lytho tenant.
#[derive(Debug)]
pub struct Ctx {
    pub sandbox: Sandbox,
    pub info: LythoInfo,
    /// `http://127.0.0.1:<lytho port>` (no `/v1`): where `/_sandbox/` lives.
    pub origin: String,
    /// A plain HTTP client for controls and raw requests.
    pub http: reqwest::Client,
    pub client: LythoClient,
}

/// Starts a sandbox (one small GHL location next to the Lytho tenant).
pub async fn spawn() -> Ctx {
    let config = SandboxConfig {
        contacts_per_location: 5,
        locations: 1,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let info = sandbox.lytho().info();
    assert_eq!(info.base_url, sandbox.info().lytho.base_url);
    let origin = info
        .base_url
        .strip_suffix("/v1")
        .expect("base URL ends with /v1")
        .to_owned();
    let client = client_for(&info, &info.client_secret);
    Ctx {
        sandbox,
        info,
        origin,
        http: wire::http::http_client(Duration::from_secs(10)),
        client,
    }
}

/// A client for the tenant with the given secret.
pub fn client_for(info: &LythoInfo, secret: &str) -> LythoClient {
    let config = LythoConfig::with_urls(
        Url::parse(&info.base_url).expect("base URL"),
        Url::parse(&info.token_url).expect("token URL"),
        info.client_id.clone(),
        SecretString::from(secret.to_owned()),
    )
    .with_timeout(Duration::from_secs(10));
    LythoClient::new(config).expect("client")
}

impl Ctx {
    /// A raw request to the Lytho port; the status and JSON body (`null` if none).
    pub async fn raw(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.origin));
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

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.ctl(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ctl(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Value {
        self.ctl(Method::DELETE, path, None).await
    }

    /// `GET /_sandbox/counters`.
    pub async fn counters(&self) -> Value {
        self.get("/_sandbox/counters").await
    }

    /// Ids of one type's items, ascending.
    pub fn ids(&self, kind: &str) -> Vec<i32> {
        let kind = sandbox::lytho::state::Kind::parse(kind).expect("type");
        self.sandbox
            .lytho()
            .with_world(|w| w.items[&kind].keys().copied().collect())
    }

    pub async fn shutdown(self) {
        let Self {
            sandbox,
            client,
            http,
            ..
        } = self;
        drop((client, http));
        sandbox.shutdown().await;
    }
}

/// Asserts an API error: status, retry class and part of the server message.
pub fn assert_api_error(err: &LythoError, status: u16, class: RetryClass, message: &str) {
    assert_eq!(err.status(), Some(status), "{err}");
    assert_eq!(err.retry_class(), class, "{err}");
    let got = err.server_message().unwrap_or_default();
    assert!(got.contains(message), "expected {message:?} in {got:?}");
}
