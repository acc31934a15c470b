//! The workspace's single HTTP client factory.
//!
//! Every outbound HTTP client in ghlsync (GHL, Lofty, Lytho, OAuth servers, tests) must
//! come from here, so that all of them share the same policy:
//!
//! - a request timeout (30 s by default) and a connect timeout (10 s), so nothing hangs;
//! - **no redirects** (`redirect::Policy::none()`): an OAuth or API call that redirects is
//!   a bug or an attack (SSRF), never something to follow silently;
//! - rustls with the **ring** crypto provider, installed exactly once per process (reqwest
//!   is built with `rustls-no-provider`; installing the provider in many places makes
//!   behaviour depend on test order);
//! - a `ghlsync/<version>` user agent.
//!
//! The workspace's `clippy.toml` disallows `reqwest::Client::new`, `Client::builder` and
//! `ClientBuilder::new` everywhere else, so a client without this policy does not slip
//! in unnoticed. The only exceptions are this module, the sandbox (which must not use the
//! clients' code, and builds its own client to send webhooks) and tests, each with a
//! reasoned `#[allow(clippy::disallowed_methods)]`.

use std::sync::Once;
use std::time::Duration;

/// User agent sent on every request.
pub const USER_AGENT: &str = concat!("ghlsync/", env!("CARGO_PKG_VERSION"));

/// Request timeout used when a caller has no better value.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Time allowed to establish a TCP + TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

static CRYPTO_PROVIDER: Once = Once::new();

/// Installs rustls' ring crypto provider as the process default, once.
///
/// Safe to call any number of times and from any thread. If another crate already
/// installed a provider, that one is kept.
pub fn install_crypto_provider() {
    CRYPTO_PROVIDER.call_once(|| {
        if rustls::crypto::ring::default_provider()
            .install_default()
            .is_err()
        {
            tracing::debug!("a rustls crypto provider was already installed; keeping it");
        }
    });
}

/// A [`reqwest::ClientBuilder`] with the project's policy applied, for callers that need
/// to add something (e.g. default headers). Prefer [`http_client`].
// This is the factory `clippy.toml` sends every other construction to: the one place
// allowed to call `reqwest::Client::builder`.
#[allow(clippy::disallowed_methods)]
pub fn http_client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .tls_backend_rustls()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(DEFAULT_CONNECT_TIMEOUT.min(timeout))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
}

/// Builds an HTTP client with the project's policy, reporting TLS setup failures.
pub fn try_http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    http_client_builder(timeout).build()
}

/// Builds an HTTP client with the project's policy (see the module docs).
///
/// # Panics
///
/// Like `reqwest::Client::new`, panics if the TLS backend cannot be initialised (which
/// only happens on a broken system, e.g. no usable root certificate store). Use
/// [`try_http_client`] to handle that case.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    match try_http_client(timeout) {
        Ok(client) => client,
        Err(err) => panic!("cannot initialise the HTTP client (TLS backend): {err}"),
    }
}

/// [`http_client`] with [`DEFAULT_TIMEOUT`].
pub fn default_http_client() -> reqwest::Client {
    http_client(DEFAULT_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_twice_without_provider_conflicts() {
        let a = try_http_client(Duration::from_secs(5));
        let b = try_http_client(Duration::from_secs(5));
        assert!(a.is_ok() && b.is_ok());
        assert!(USER_AGENT.starts_with("ghlsync/"));
    }
}
