//! The Lytho Workflow Open API v1 emulator, on its own port.
//!
//! | module | what it serves |
//! |---|---|
//! | [`oauth`] | the tenant's Keycloak token endpoint (client credentials) |
//! | [`items`] | `/v1/{type}/...` for work requests, tasks, projects, proofs, campaigns |
//! | [`patch`] | RFC 6902 JSON Patch behind `PATCH /v1/{type}/{id}` |
//! | [`controls`] | `/_sandbox/` test controls |
//! | [`http`] | errors, query binding, auth, rate limits, faults, counters |
//! | [`seed`] | the deterministic tenant (users shared with GHL's seeded contacts) |
//! | [`state`] | the world behind one mutex |
//!
//! Lytho has no webhooks: every change (PATCH, `/_sandbox/touch`, a new comment)
//! moves the item's `modifiedDate`, strictly later than any earlier change, and
//! clients find changes by polling. See `docs/LYTHO.md` for what is documented by
//! Lytho and what the emulator chose where Lytho is silent.

pub mod controls;
pub mod http;
pub mod items;
pub mod oauth;
pub mod patch;
pub mod seed;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::SandboxConfig;
use state::{Counters, Inner, Rate, Runtime, Shared, World};

/// Lifetime of access tokens unless changed through `/_sandbox/config` (Keycloak's
/// default access-token lifespan).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(300);

/// Lifetime of pre-signed file URLs unless changed through `/_sandbox/config`.
pub const DEFAULT_FILE_URL_TTL: Duration = Duration::from_secs(3600);

/// The `lytho` object of the sandbox's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct LythoInfo {
    /// API base, `http://127.0.0.1:PORT/v1` (Lytho: `https://openapi.wf.lytho.us/v1`).
    pub base_url: String,
    /// The tenant's token URL, `{origin}/auth/realms/{tenant}/protocol/openid-connect/token`.
    pub token_url: String,
    /// `wf-oa-...`.
    pub client_id: String,
    pub client_secret: String,
    /// The Keycloak realm.
    pub tenant: String,
}

/// The info of a running emulator (the secret may have been reset since start).
pub(crate) fn info_of(shared: &Shared) -> LythoInfo {
    let inner = shared.lock();
    let w = &inner.world;
    LythoInfo {
        base_url: format!("{}/v1", shared.origin),
        token_url: format!(
            "{}/auth/realms/{}/protocol/openid-connect/token",
            shared.origin, w.tenant
        ),
        client_id: w.client_id.clone(),
        client_secret: w.client_secret.clone(),
        tenant: w.tenant.clone(),
    }
}

/// In-process access to the Lytho emulator.
#[derive(Debug, Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    pub fn info(&self) -> LythoInfo {
        info_of(&self.shared)
    }

    /// Reads the world (for assertions in tests).
    pub fn with_world<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&self.shared.lock().world)
    }

    /// What the emulator counted.
    pub fn counters(&self) -> Counters {
        self.shared.lock().rt.counters.clone()
    }

    /// Saves the state file now, if one is configured.
    pub fn save_now(&self) {
        crate::common::save(&*self.shared);
    }
}

/// Where the Lytho world is kept next to the GHL state file.
fn state_path(ghl_state: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lytho.json", ghl_state.display()))
}

fn load(path: &Path) -> anyhow::Result<Option<World>> {
    crate::common::load_state(path, "Lytho")
}

/// Builds the router, handle and background tasks of the Lytho emulator.
pub(crate) async fn build(
    config: &SandboxConfig,
    base_url: &str,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Router, Handle, Vec<JoinHandle<()>>)> {
    let state_file = config.state_file.as_deref().map(state_path);
    let loaded = match &state_file {
        Some(p) => load(p)?,
        None => None,
    };
    let world = loaded.unwrap_or_else(|| seed::world(config.seed));
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            world,
            rt: Runtime {
                rate: Rate::default(),
                token_ttl: DEFAULT_TOKEN_TTL,
                file_url_ttl: DEFAULT_FILE_URL_TTL,
                ..Runtime::default()
            },
        }),
        origin: base_url.trim_end_matches('/').to_owned(),
        state_file,
    });
    let mut tasks = Vec::new();
    tasks.extend(crate::common::spawn_saver(shared.clone(), shutdown));
    Ok((router(shared.clone()), Handle { shared }, tasks))
}

fn router(shared: Arc<Shared>) -> Router {
    use axum::middleware::from_fn_with_state;
    use controls as ctl;
    use items as it;
    let api = Router::new()
        .route("/v1/{type}", get(it::batch))
        .route("/v1/{type}/search", get(it::search))
        .route("/v1/{type}/descriptions", get(it::descriptions))
        .route("/v1/{type}/{id}", get(it::get_item).patch(it::patch_item))
        .route("/v1/{type}/{id}/users", get(it::users))
        .route("/v1/{type}/{id}/comments", get(it::comments))
        .route("/v1/{type}/{id}/description", get(it::description))
        .route("/v1/{type}/{id}/files/urls", get(it::files))
        .route(
            "/v1/{type}/{id}/deliverablefiles/urls",
            get(it::deliverable_files),
        )
        .route_layer(from_fn_with_state(shared.clone(), http::gate));
    let open = Router::new()
        .route(
            "/auth/realms/{tenant}/protocol/openid-connect/token",
            post(oauth::token),
        )
        .route("/files/{token}", get(it::download))
        .route_layer(from_fn_with_state(shared.clone(), http::open_gate));
    let controls = Router::new()
        .route("/_sandbox/info", get(ctl::info))
        .route("/_sandbox/users", get(ctl::users))
        .route("/_sandbox/seed", post(ctl::seed))
        .route("/_sandbox/touch", post(ctl::touch))
        .route("/_sandbox/comments", post(ctl::comment))
        .route("/_sandbox/config", post(ctl::config))
        .route(
            "/_sandbox/faults",
            post(ctl::set_faults).delete(ctl::clear_faults),
        )
        .route("/_sandbox/tokens/revoke", post(ctl::revoke))
        .route("/_sandbox/tokens/revoke-all", post(ctl::revoke_all))
        .route("/_sandbox/tokens/expire-all", post(ctl::expire_all))
        .route("/_sandbox/client-secret/reset", post(ctl::reset_secret))
        .route(
            "/_sandbox/counters",
            get(ctl::counters).delete(ctl::reset_counters),
        );
    controls
        .merge(api)
        .merge(open)
        .fallback(http::not_found)
        .with_state(shared)
}
