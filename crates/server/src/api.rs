//! The admin REST API's routes, registered with their OpenAPI description
//! (`utoipa`): the document at `/api/openapi.json` is made from the same routes the
//! router serves, so it cannot list a route that does not exist or miss one that
//! does (a test walks both ways). No Swagger UI is served or downloaded.

use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::admin::AdminCaller;
use crate::{AppState, connections, dead_letters, flows, health, review, runs};

/// The API's routes and their document.
pub fn routes() -> (Router<AppState>, OpenApi) {
    let (router, mut doc) = OpenApiRouter::<AppState>::new()
        .routes(routes!(connections::api_list, connections::api_add))
        .routes(routes!(connections::api_test))
        .routes(routes!(connections::api_rotate))
        .routes(routes!(flows::api_list))
        .routes(routes!(flows::api_one, flows::api_put))
        .routes(routes!(flows::api_enable))
        .routes(routes!(flows::api_disable))
        .routes(routes!(flows::api_preview))
        .routes(routes!(flows::api_backfill))
        .routes(routes!(runs::api_runs))
        .routes(routes!(runs::api_history))
        .routes(routes!(review::api_list))
        .routes(routes!(review::api_approve))
        .routes(routes!(review::api_dismiss))
        .routes(routes!(dead_letters::api_list))
        .routes(routes!(dead_letters::api_one))
        .routes(routes!(dead_letters::api_replay))
        .routes(routes!(health::api_health))
        .split_for_parts();
    doc.info = InfoBuilder::new()
        .title("ghlsync admin API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Everything the admin UI does. Authenticate with an API token \
             (`Authorization: Bearer ghs_...`, `ghlsync admin token create`) or a session \
             cookie (changes then need the `X-CSRF-Token` header). Viewers read; a change \
             by a viewer is refused with 403. docs/ADMIN.md describes each route.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "token",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
            crate::admin::SESSION_COOKIE,
        ))),
    );
    (router, doc)
}

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| routes().1)
}

/// GET /api/openapi.json
pub async fn openapi_json(_c: AdminCaller) -> Json<&'static OpenApi> {
    Json(document())
}
