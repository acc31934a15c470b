//! A JSON body extractor that answers bad JSON the way GHL does (400 JSON error),
//! accepts an empty body as `{}`, and does not insist on a `Content-Type`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde_json::Value;

use super::http::ApiError;

/// The request body parsed as JSON (`{}` when empty).
#[derive(Debug)]
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("Could not read the request body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Value::Object(serde_json::Map::new())));
        }
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::bad_request(format!("Unexpected token in JSON: {e}")))
    }
}
