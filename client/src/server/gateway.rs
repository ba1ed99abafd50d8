//! The IPFS trustless gateway (PROTOCOLS B): `GET|HEAD /ipfs/{cid}` as a raw block or a CAR.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{Served, Shared};

pub(super) async fn handle<S: Served>(State(_shared): State<Arc<Shared<S>>>) -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
