//! A JSON body extractor that answers bad JSON the way GHL does (400 JSON error),
//! accepts an empty body as `{}`, and does not insist on a `Content-Type`.

use axum::extract::{FromRequest, Request};
use serde_json::Value;

use super::http::ApiError;

/// The request body parsed as JSON (`{}` when empty).
#[derive(Debug)]
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use crate::common::{BodyError, json_body};
        json_body(req, state).await.map(Body).map_err(|e| match e {
            BodyError::Read(e) => {
                ApiError::bad_request(format!("Could not read the request body: {e}"))
            }
            BodyError::Parse(e) => ApiError::bad_request(format!("Unexpected token in JSON: {e}")),
        })
    }
}
