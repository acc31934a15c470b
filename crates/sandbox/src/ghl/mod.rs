//! The HighLevel API v2 emulator.
//!
//! | module | what it serves |
//! |---|---|
//! | [`contacts`] | the 32 Contacts operations |
//! | [`calendars`] | appointments (Version `2021-04-15`) |
//! | [`locations`] | location custom fields and tags |
//! | [`oauth`] | consent page, `/oauth/token`, location tokens, installed locations |
//! | [`controls`] | `/_sandbox/` test controls |
//! | [`webhooks`] | signed webhooks out |
//! | [`http`] | errors, auth, scopes, rate limits, faults, counters |

pub mod body;
pub mod calendars;
pub mod contacts;
pub mod controls;
pub mod http;
pub mod locations;
pub mod oauth;
pub mod seed;
pub mod state;
pub mod validate;
pub mod webhooks;

use std::path::Path;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::SandboxConfig;
use state::{Inner, Runtime, Shared, World};
use webhooks::{DeliveryLog, Outbox};

/// One location as printed by `ghlsync sandbox`.
#[derive(Debug, Clone, Serialize)]
pub struct LocationInfo {
    pub id: String,
    /// A Private Integration Token with every scope.
    pub token: String,
    pub user_ids: Vec<String>,
    pub calendar_ids: Vec<String>,
    pub campaign_ids: Vec<String>,
    pub workflow_ids: Vec<String>,
    pub business_ids: Vec<String>,
}

/// The `ghl` object of the sandbox's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct GhlInfo {
    pub base_url: String,
    pub company_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Ed25519 public key (PEM) that verifies `X-GHL-Signature`.
    pub webhook_public_key: String,
    pub locations: Vec<LocationInfo>,
}

/// State shared by all handlers.
#[derive(Debug, Clone)]
pub struct App {
    pub shared: Arc<Shared>,
    pub log: DeliveryLog,
    pub retry_delay: Arc<Mutex<Duration>>,
    pub seed: u64,
    pub key_pem: String,
}

impl App {
    pub fn info(&self) -> GhlInfo {
        let inner = self.shared.lock();
        let w = &inner.world;
        let ids = |v: &[state::Named]| v.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
        GhlInfo {
            base_url: self.shared.base_url.clone(),
            company_id: w.company_id.clone(),
            client_id: w.client_id.clone(),
            client_secret: w.client_secret.clone(),
            webhook_public_key: self.key_pem.clone(),
            locations: w
                .locations
                .values()
                .map(|l| LocationInfo {
                    id: l.id.clone(),
                    token: l.pit.clone(),
                    user_ids: ids(&l.users),
                    calendar_ids: ids(&l.calendars),
                    campaign_ids: ids(&l.campaigns),
                    workflow_ids: ids(&l.workflows),
                    business_ids: ids(&l.businesses),
                })
                .collect(),
        }
    }
}

/// In-process access to a running GHL emulator.
#[derive(Debug, Clone)]
pub struct Handle {
    app: App,
}

impl Handle {
    pub fn info(&self) -> GhlInfo {
        self.app.info()
    }

    /// Reads the world (for assertions in tests).
    pub fn with_world<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&self.app.shared.lock().world)
    }

    /// Refresh counts of the token endpoint.
    pub fn oauth_counter(&self) -> state::OAuthCounter {
        self.app.shared.lock().rt.oauth
    }

    /// API requests counted for a location (or company) id.
    pub fn requests(&self, id: &str) -> u64 {
        self.app
            .shared
            .lock()
            .rt
            .counters
            .get(id)
            .map_or(0, |c| c.requests)
    }

    /// Saves the state file now, if one is configured.
    pub fn save_now(&self) {
        crate::common::save(&*self.app.shared);
    }
}

/// The sandbox's own HTTP client (webhooks out, tests): installs the rustls
/// crypto provider once, no redirects.
// The sandbox must not use the clients' code (it is an independent reading of the
// specs), so it builds its own client instead of taking one from `wire::http`.
#[allow(clippy::disallowed_methods)]
pub fn http_client() -> reqwest::Client {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

fn load(path: &Path) -> anyhow::Result<Option<World>> {
    crate::common::load_state(path, "GHL")
}

/// Builds the router, the shared state and the background tasks.
pub(crate) async fn build(
    config: &SandboxConfig,
    base_url: &str,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Router, Handle, Vec<JoinHandle<()>>)> {
    let loaded = match &config.state_file {
        Some(p) => load(p)?,
        None => None,
    };
    let fresh = loaded.is_none();
    let mut world = loaded.unwrap_or_else(|| seed::world(config.seed, config.locations));
    for loc in world.locations.values_mut() {
        loc.reindex();
    }
    for t in &config.webhook_targets {
        if !world.webhook_targets.contains(t) {
            world.webhook_targets.push(t.clone());
        }
    }
    let key = webhooks::signing_key(&world.webhook_key_seed);
    let key_pem = webhooks::public_key_pem(&key);
    let (outbox, rx) = Outbox::new(world.app_id().to_owned());
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            world,
            rt: Runtime {
                rate: config.rate,
                access_token_ttl: config.access_token_ttl,
                buckets: Default::default(),
                faults: Default::default(),
                counters: Default::default(),
                oauth: Default::default(),
                dirty: false,
                generation: 0,
                search_order: None,
                documented_webhooks: false,
            },
        }),
        outbox,
        base_url: base_url.to_owned(),
        state_file: config.state_file.clone(),
    });
    if fresh {
        let mut inner = shared.lock();
        let ids: Vec<String> = inner.world.locations.keys().cloned().collect();
        for id in ids {
            seed::add_contacts(&mut inner, &id, config.contacts_per_location, config.seed);
        }
    }
    let app = App {
        shared: shared.clone(),
        log: Arc::default(),
        retry_delay: Arc::new(Mutex::new(config.webhook_retry_delay)),
        seed: config.seed,
        key_pem,
    };
    let mut tasks = vec![tokio::spawn(webhooks::deliver(
        shared.clone(),
        rx,
        key,
        app.log.clone(),
        app.retry_delay.clone(),
        shutdown.clone(),
    ))];
    tasks.extend(crate::common::spawn_saver(shared, shutdown));
    Ok((router(app.clone()), Handle { app }, tasks))
}

fn router(app: App) -> Router {
    use calendars as cal;
    use controls as ctl;
    use locations as loc;
    let api = Router::new()
        .merge(contacts::routes())
        .route("/calendars/events/appointments", post(cal::create))
        .route(
            "/calendars/events/appointments/{eventId}",
            get(cal::get).put(cal::edit),
        )
        .route("/calendars/events/{eventId}", delete(cal::delete))
        .route("/calendars/events", get(cal::list))
        .route("/calendars/", get(cal::calendars))
        .route("/users/", get(loc::users))
        .route(
            "/locations/{locationId}/customFields",
            get(loc::list_fields).post(loc::create_field),
        )
        .route(
            "/locations/{locationId}/customFields/{id}",
            get(loc::get_field)
                .put(loc::update_field)
                .delete(loc::delete_field),
        )
        .route(
            "/locations/{locationId}/tasks/search",
            post(loc::search_tasks),
        )
        .route(
            "/locations/{locationId}/tags",
            get(loc::list_tags).post(loc::create_tag),
        )
        .route(
            "/locations/{locationId}/tags/{tagId}",
            get(loc::get_tag)
                .put(loc::update_tag)
                .delete(loc::delete_tag),
        )
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/locationToken", post(oauth::location_token))
        .route("/oauth/installedLocations", get(oauth::installed_locations))
        .route("/oauth/location-token", post(oauth::location_token))
        .route(
            "/oauth/installed-locations",
            get(oauth::installed_locations_v3),
        )
        .route(
            "/oauth/chooselocation",
            get(oauth::consent_page).post(oauth::consent_submit),
        )
        .route(
            "/v2/oauth/chooselocation",
            get(oauth::consent_page).post(oauth::consent_submit),
        )
        .fallback(http::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.shared.clone(),
            http::gate,
        ));
    let controls = Router::new()
        .route("/_sandbox/info", get(ctl::info))
        .route("/_sandbox/webhook-public-key", get(ctl::public_key))
        .route("/_sandbox/seed", post(ctl::seed))
        .route("/_sandbox/oauth/code", post(ctl::code))
        .route("/_sandbox/pit", post(ctl::pit))
        .route("/_sandbox/locations/{id}/settings", post(ctl::settings))
        .route("/_sandbox/config", post(ctl::config))
        .route(
            "/_sandbox/faults",
            post(ctl::set_faults).delete(ctl::clear_faults),
        )
        .route("/_sandbox/tokens/revoke", post(ctl::revoke))
        .route("/_sandbox/tokens/revoke-all", post(ctl::revoke_all))
        .route("/_sandbox/tokens/expire-all", post(ctl::expire_all))
        .route(
            "/_sandbox/webhooks",
            post(ctl::add_webhook)
                .get(ctl::list_webhooks)
                .delete(ctl::clear_webhooks),
        )
        .route("/_sandbox/webhooks/deliveries", get(ctl::deliveries))
        .route("/_sandbox/install", post(ctl::do_install))
        .route("/_sandbox/uninstall", post(ctl::do_uninstall))
        .route(
            "/_sandbox/counters",
            get(ctl::counters).delete(ctl::reset_counters),
        );
    controls.merge(api).with_state(app)
}
