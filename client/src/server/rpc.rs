//! The read-only block methods of Lotus JSON-RPC v1 (PROTOCOLS A) at `/rpc/v1`, so that a
//! client or tool that speaks to Lotus reads a prollydb node's blocks unchanged:
//! `Filecoin.ChainReadObj`, `Filecoin.ChainHasObj`, `Filecoin.Version`. Single and batch
//! requests, Lotus's error codes and HTTP statuses.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cid::Cid;
use data_encoding::BASE64;
use serde_json::{Value, json};

use super::{Served, Shared};

/// The bytes of answers one batch gets before the rest are refused.
const MAX_BATCH_ANSWER_BYTES: usize = 64 << 20;

/// The v1 API version Lotus reports (2.3.0).
const API_VERSION: u64 = 0x02_03_00;

/// A call's failure: its JSON-RPC code, message and the HTTP status a single call gets.
struct Failure {
    code: i64,
    message: String,
    status: StatusCode,
}

fn failure(code: i64, message: String) -> Failure {
    // A method's own error is code 1 with 200; protocol errors are 500 (go-jsonrpc).
    let status = if code == 1 {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    Failure {
        code,
        message,
        status,
    }
}

fn cid_param(method: &str, params: &[Value]) -> Result<Cid, Failure> {
    if params.len() != 1 {
        return Err(failure(
            -32602,
            format!(
                "wrong param count (method '{method}'): {} != 1",
                params.len()
            ),
        ));
    }
    params[0]
        .get("/")
        .and_then(Value::as_str)
        .and_then(|s| Cid::try_from(s).ok())
        .ok_or_else(|| {
            failure(
                -32700,
                format!("unmarshaling params for '{method}' (param: 0): not a CID"),
            )
        })
}

fn call<S: Served>(store: &S, method: &str, params: &[Value]) -> Result<Value, Failure> {
    match method {
        "Filecoin.Version" => Ok(json!({
            "Version": concat!("prollydb/", env!("CARGO_PKG_VERSION")),
            "APIVersion": API_VERSION,
            "BlockDelay": 30,
            "Agent": "prollydb",
        })),
        "Filecoin.ChainReadObj" => {
            let cid = cid_param(method, params)?;
            match store.get(&cid) {
                Ok(Some(bytes)) => Ok(Value::String(BASE64.encode(&bytes))),
                Ok(None) => Err(failure(
                    1,
                    format!("blockstore get: ipld: could not find {cid}"),
                )),
                Err(e) => Err(failure(1, format!("blockstore get: {e:#}"))),
            }
        }
        "Filecoin.ChainHasObj" => {
            let cid = cid_param(method, params)?;
            store
                .has(&cid)
                .map(Value::Bool)
                .map_err(|e| failure(1, format!("blockstore has: {e:#}")))
        }
        _ => Err(failure(-32601, format!("method '{method}' not found"))),
    }
}

/// One request object's answer, and the status it would get alone. A notification (no id)
/// gets no answer.
fn answer<S: Served>(store: &S, request: &Value) -> Option<(Value, StatusCode)> {
    let id = request.get("id")?.clone();
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = match request.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(params)) => params.clone(),
        Some(_) => {
            let f = failure(
                -32700,
                format!("unmarshaling params for '{method}': not an array"),
            );
            return Some(error(id, f));
        }
    };
    Some(match call(store, method, &params) {
        Ok(result) => (
            json!({"jsonrpc": "2.0", "id": id, "result": result}),
            StatusCode::OK,
        ),
        Err(f) => error(id, f),
    })
}

fn error(id: Value, f: Failure) -> (Value, StatusCode) {
    (
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": f.code, "message": f.message}}),
        f.status,
    )
}

fn reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(super) async fn handle<S: Served>(
    State(shared): State<Arc<Shared<S>>>,
    body: Bytes,
) -> Response {
    if body.iter().all(u8::is_ascii_whitespace) {
        let (body, _) = error(Value::Null, failure(-32600, "Invalid request".into()));
        return reply(StatusCode::BAD_REQUEST, &body);
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        let (body, status) = error(Value::Null, failure(-32700, "Parse error".into()));
        return reply(status, &body);
    };
    let store = shared.store.clone();
    // Block reads touch the store: off the async threads.
    let answered = tokio::task::spawn_blocking(move || match request {
        Value::Array(calls) if calls.is_empty() => {
            let (body, _) = error(Value::Null, failure(-32600, "Invalid request".into()));
            (body, StatusCode::BAD_REQUEST)
        }
        Value::Array(calls) => {
            // A small body can ask for a lot: past the answer budget, calls get Lotus's
            // "limit exceeded" instead of their blocks.
            let mut budget = MAX_BATCH_ANSWER_BYTES;
            let answers: Vec<Value> = calls
                .iter()
                .filter_map(|c| {
                    if budget == 0 {
                        let id = c.get("id")?.clone();
                        let f = failure(
                            -32005,
                            "limit exceeded: the batch's answer is too large".into(),
                        );
                        return Some(error(id, f).0);
                    }
                    let (a, _) = answer(store.as_ref(), c)?;
                    budget = budget.saturating_sub(a.to_string().len().max(1));
                    Some(a)
                })
                .collect();
            (Value::Array(answers), StatusCode::OK)
        }
        single => answer(store.as_ref(), &single).unwrap_or((Value::Null, StatusCode::OK)),
    })
    .await;
    match answered {
        Ok((body, status)) => reply(status, &body),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
