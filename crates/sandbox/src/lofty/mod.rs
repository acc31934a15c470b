//! The Lofty Open API emulator (`/v1.0`, `/v2.0`), on its own port.
//!
//! | module | what it serves |
//! |---|---|
//! | [`leads`] | leads: list/search, create, get, update, trash |
//! | [`notes`] | notes CRUD |
//! | [`tasks`] | V2 tasks (incl. `my-tasks`) and the V2 calendar (composite ids) |
//! | [`team`] | `me`, members, tags, custom fields, lead pipelines |
//! | [`webhooks`] | subscriptions API, batched thin webhooks out |
//! | [`oauth`] | vendor consent page and token endpoint |
//! | [`controls`] | `/_sandbox/` test controls |
//! | [`http`] | errors, credentials, `Content-Type`, rate limits, faults, counters |
//!
//! The reference for clients is `docs/LOFTY.md`; facts and sources are in
//! `../shared/notes/lofty-lytho.md`.

pub mod controls;
pub mod http;
pub mod leads;
pub mod notes;
pub mod oauth;
pub mod seed;
pub mod state;
pub mod tasks;
pub mod team;
pub mod validate;
pub mod webhooks;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post, put};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::SandboxConfig;
use state::{Inner, RateConfig, Runtime, Shared, World};
use webhooks::{Delivery, DeliveryLog};

/// Default batch window of webhooks out (Lofty: "typically within 1 minute").
pub const DEFAULT_WEBHOOK_BATCH_MS: u64 = 1_000;
/// Default lifetime of OAuth access tokens issued by the token endpoint.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: u64 = 3_600;

/// The `lofty` object of the sandbox's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct LoftyInfo {
    pub base_url: String,
    /// A personal API key of the account owner (`Authorization: token <key>`).
    pub api_key: String,
    /// A personal API key of a plain agent (sees only their own and team leads).
    pub agent_api_key: String,
    /// An OAuth access token of the owner with every API granted
    /// (`Authorization: Bearer <token>`); it does not expire.
    pub oauth_token: String,
    /// The vendor app, for the OAuth code and refresh flows.
    pub client_id: String,
    pub client_secret: String,
    /// Token endpoint of the vendor app (also served at `/oauth/token`).
    pub token_url: String,
    pub team_id: i64,
    /// `memberUserId` of each team member, the owner first.
    pub member_user_ids: Vec<i64>,
}

/// State shared by all handlers.
#[derive(Debug, Clone)]
pub struct App {
    pub shared: Arc<Shared>,
    pub log: DeliveryLog,
    pub seed: u64,
    /// Client for webhooks out.
    pub http: reqwest::Client,
}

impl App {
    pub fn info(&self) -> LoftyInfo {
        let inner = self.shared.lock();
        let w = &inner.world;
        LoftyInfo {
            base_url: self.shared.base_url.clone(),
            api_key: w.admin_key.clone(),
            agent_api_key: w.agent_key.clone(),
            oauth_token: w.oauth_token.clone(),
            client_id: w.app.client_id.clone(),
            client_secret: w.app.client_secret.clone(),
            token_url: format!("{}/api/user-web/oauth/token", self.shared.base_url),
            team_id: w.team_id,
            member_user_ids: w.members.iter().map(|m| m.member_user_id).collect(),
        }
    }
}

/// In-process access to the Lofty emulator.
#[derive(Debug, Clone)]
pub struct Handle {
    app: App,
}

impl Handle {
    pub fn info(&self) -> LoftyInfo {
        self.app.info()
    }

    /// Reads the world (for assertions in tests).
    pub fn with_world<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&self.app.shared.lock().world)
    }

    /// Every webhook delivery made so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.app
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Delivers every pending webhook batch now; returns how many deliveries were made.
    pub async fn flush_webhooks(&self) -> usize {
        webhooks::flush(&self.app).await
    }

    /// Sets the read delay after create (eventual consistency); 0 turns it off.
    pub fn set_consistency_delay(&self, delay: Duration) {
        self.app.shared.lock().rt.consistency_delay_ms =
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    }

    /// Sets the rate window and the per-window limits of API keys and the OAuth app.
    pub fn set_rate(&self, window: Duration, key_limit: u32, oauth_limit: u32) {
        let mut inner = self.app.shared.lock();
        inner.rt.rate = RateConfig {
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1),
            key_limit,
            oauth_limit,
        };
        inner.rt.buckets.clear();
    }

    /// API requests counted for a caller (member user id) or `total`.
    pub fn requests(&self, caller: &str) -> u64 {
        self.app
            .shared
            .lock()
            .rt
            .counters
            .get(caller)
            .map_or(0, |c| c.requests)
    }

    /// API requests answered 429 for a caller (member user id) or `total`.
    pub fn rate_limited(&self, caller: &str) -> u64 {
        self.app
            .shared
            .lock()
            .rt
            .counters
            .get(caller)
            .map_or(0, |c| c.rate_limited)
    }

    /// Saves the state file now, if one is configured.
    pub fn save_now(&self) {
        crate::common::save(&*self.app.shared);
    }
}

/// Where the Lofty world is kept next to the sandbox's state file.
fn state_path(config: &SandboxConfig) -> Option<PathBuf> {
    config
        .state_file
        .as_ref()
        .map(|p| PathBuf::from(format!("{}.lofty.json", p.display())))
}

fn load(path: &Path) -> anyhow::Result<Option<World>> {
    crate::common::load_state(path, "Lofty")
}

/// Builds the router, handle and background tasks of the Lofty emulator.
pub(crate) async fn build(
    config: &SandboxConfig,
    base_url: &str,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Router, Handle, Vec<JoinHandle<()>>)> {
    let path = state_path(config);
    let loaded = match &path {
        Some(p) => load(p)?,
        None => None,
    };
    let fresh = loaded.is_none();
    let mut world =
        loaded.unwrap_or_else(|| seed::world(config.seed, config.contacts_per_location));
    world.reindex();
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            world,
            rt: Runtime {
                rate: RateConfig::default(),
                buckets: Default::default(),
                faults: Default::default(),
                counters: BTreeMap::new(),
                consistency_delay_ms: 0,
                webhook_batch_ms: DEFAULT_WEBHOOK_BATCH_MS,
                access_token_ttl_secs: DEFAULT_ACCESS_TOKEN_TTL_SECS,
                pending: BTreeMap::new(),
                rng: StdRng::seed_from_u64(config.seed ^ 0x5eed_1ead),
                dirty: false,
            },
        }),
        wake: tokio::sync::Notify::new(),
        base_url: base_url.to_owned(),
        state_file: path,
    });
    if fresh {
        let mut inner = shared.lock();
        seed::add_leads(&mut inner, config.contacts_per_location, config.seed);
    }
    let app = App {
        shared: shared.clone(),
        log: Arc::new(Mutex::new(VecDeque::new())),
        seed: config.seed,
        http: crate::ghl::http_client(),
    };
    let mut tasks = vec![tokio::spawn(webhooks::dispatch(
        app.clone(),
        shutdown.clone(),
    ))];
    tasks.extend(crate::common::spawn_saver(shared, shutdown));
    Ok((router(app.clone()), Handle { app }, tasks))
}

fn router(app: App) -> Router {
    use controls as ctl;
    let api = Router::new()
        .route("/v1.0/leads", get(leads::list).post(leads::create))
        .route(
            "/v1.0/leads/{leadId}",
            get(leads::get).put(leads::update).delete(leads::trash),
        )
        .route("/v1.0/notes", get(notes::list).post(notes::create))
        .route(
            "/v1.0/notes/{noteId}",
            get(notes::get).put(notes::update).delete(notes::delete),
        )
        .route("/v2.0/tasks", get(tasks::list).post(tasks::create))
        .route("/v2.0/tasks/my-tasks", get(tasks::my_tasks))
        .route(
            "/v2.0/tasks/{taskId}",
            get(tasks::get).put(tasks::update).delete(tasks::delete),
        )
        .route("/v2.0/tasks/{taskId}/finish", post(tasks::finish))
        .route("/v2.0/tasks/{taskId}/unfinish", post(tasks::unfinish))
        .route(
            "/v2.0/calendar",
            get(tasks::calendar_list).post(tasks::calendar_create),
        )
        .route(
            "/v2.0/calendar/{calendarId}",
            put(tasks::calendar_update).delete(tasks::calendar_delete),
        )
        .route(
            "/v2.0/calendar/{calendarId}/finish",
            post(tasks::calendar_finish),
        )
        .route(
            "/v2.0/calendar/{calendarId}/unfinish",
            post(tasks::calendar_unfinish),
        )
        .route("/v1.0/me", get(team::me))
        .route("/v1.0/members", get(team::members))
        .route("/v1.0/members/{account}", get(team::member))
        .route("/v1.0/teamFeatures/listTag", get(team::tags))
        .route(
            "/v1.0/teamFeatures/listCustomField",
            get(team::custom_fields),
        )
        .route(
            "/v1.0/teamFeatures/custom-field",
            post(team::add_custom_field),
        )
        .route("/v1.0/teamFeatures/lead-pipelines", get(team::pipelines))
        .route("/v1.0/webhook", post(webhooks::create))
        .route("/v1.0/webhooks", get(webhooks::list))
        .route("/v1.0/webhook/{subscribeId}", delete(webhooks::delete))
        .route("/oauth/token", post(oauth::token))
        .route("/api/user-web/oauth/token", post(oauth::token))
        .fallback(http::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            http::gate,
        ));
    let open = Router::new().route("/page/vendor-auth.html", get(oauth::consent));
    let controls = Router::new()
        .route("/_sandbox/info", get(ctl::info))
        .route("/_sandbox/seed", post(ctl::seed))
        .route("/_sandbox/config", post(ctl::config).get(ctl::get_config))
        .route(
            "/_sandbox/faults",
            post(ctl::set_faults).delete(ctl::clear_faults),
        )
        .route(
            "/_sandbox/counters",
            get(ctl::counters).delete(ctl::reset_counters),
        )
        .route("/_sandbox/keys", post(ctl::key))
        .route("/_sandbox/oauth/code", post(ctl::code))
        .route("/_sandbox/oauth/token", post(ctl::token))
        .route("/_sandbox/tokens/revoke", post(ctl::revoke))
        .route("/_sandbox/tokens/expire-all", post(ctl::expire_all))
        .route(
            "/_sandbox/webhooks/deliveries",
            get(ctl::deliveries).delete(ctl::clear_deliveries),
        )
        .route("/_sandbox/webhooks/pending", get(ctl::pending))
        .route("/_sandbox/webhooks/flush", post(ctl::flush));
    controls.merge(open).merge(api).with_state(app)
}
