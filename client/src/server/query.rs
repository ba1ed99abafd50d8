//! `POST /prollydb/v1/query` (SPEC section 22): the node runs the query and answers with the
//! proof, which the client verifies. Queries run on blocking threads under a semaphore; what the
//! node will not do is a refusal with its status, never a wrong answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prolly_proofs::{AnchorError, ProveError};
use prolly_tree::Outcome;

use super::{Served, Shared};
use crate::protocol::{At, CAR_TYPE, QueryRequest};

fn refuse(status: StatusCode, reason: impl Into<String>) -> Response {
    (status, reason.into() + "\n").into_response()
}

/// What a proving failure means for the client.
fn status_of(error: &ProveError) -> StatusCode {
    use prolly_db::Error as Db;
    use prolly_tree::Error as Tree;
    match error {
        // A root that is not a database this node reads (a block of another kind, another
        // format version) is the request's fault, not the store's.
        ProveError::Query(
            Db::Refused(_)
            | Db::NotADatabase(_)
            | Db::Tree(Tree::Corrupt(_) | Tree::Version { .. }),
        ) => StatusCode::UNPROCESSABLE_ENTITY,
        ProveError::Anchor(AnchorError::NoActor(_)) => StatusCode::NOT_FOUND,
        ProveError::Anchor(AnchorError::Store(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        ProveError::Anchor(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(super) async fn handle<S: Served>(
    State(shared): State<Arc<Shared<S>>>,
    body: Bytes,
) -> Response {
    let request = match QueryRequest::decode(&body) {
        Ok(request) => request,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if let Err(e) = request.query.validate() {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
    }
    let cap = shared.config.max_query_budget;
    if request.query.effective_budget() > cap {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the query's budget is over this node's cap of {cap} entries"),
        );
    }
    let Ok(slot) = shared.queries.clone().try_acquire_owned() else {
        let mut busy = refuse(StatusCode::TOO_MANY_REQUESTS, "too many queries at once");
        busy.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return busy;
    };
    let store = shared.store.clone();
    let proved = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        match request.at {
            At::Root(root) => prolly_proofs::prove(store.as_ref(), root, &request.query),
            At::Anchored { state, actor } => {
                prolly_proofs::prove_anchored(store.as_ref(), state, actor, &request.query)
            }
        }
    })
    .await;
    let proof = match proved {
        Ok(Ok(Outcome::Complete(proof))) => proof,
        Ok(Ok(Outcome::Missing(missing))) => {
            let first = missing.first().map(|c| c.to_string()).unwrap_or_default();
            return refuse(
                StatusCode::NOT_FOUND,
                format!(
                    "this node does not hold the database ({first} and {} more blocks)",
                    missing.len() - 1
                ),
            );
        }
        Ok(Err(e)) => return refuse(status_of(&e), e.to_string()),
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the query failed"),
    };
    let cap = shared.config.max_witness_bytes;
    if proof.witness_bytes > cap {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the witness is {} bytes, over this node's cap of {cap}",
                proof.witness_bytes
            ),
        );
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CAR_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        proof.bytes,
    )
        .into_response()
}
