//! Lotus JSON-RPC v1 (PROTOCOLS A) at `/rpc/v1`: the envelope (single and batch requests,
//! notifications, Lotus's error codes and HTTP statuses, bearer tokens and permissions) around a
//! table of methods. A prollydb node serves the read-only block methods ([`BlockMethods`]), so
//! that a tool that speaks to Lotus reads its blocks unchanged; a devnet serves a chain's methods
//! through the same envelope.

mod blocks;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::watch;

pub use blocks::{API_VERSION, BlockMethods};

/// The bytes of answers one batch gets before the rest are refused.
const MAX_BATCH_ANSWER_BYTES: usize = 64 << 20;

/// Lotus's permission levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Perm {
    Read,
    Write,
    Sign,
    Admin,
}

impl Perm {
    pub fn name(self) -> &'static str {
        match self {
            Perm::Read => "read",
            Perm::Write => "write",
            Perm::Sign => "sign",
            Perm::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Perm> {
        [Perm::Read, Perm::Write, Perm::Sign, Perm::Admin]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// A call's failure: its JSON-RPC code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    /// A method's own error: code 1, HTTP 200 (go-jsonrpc's default for an unregistered type).
    pub fn method(message: impl Into<String>) -> RpcError {
        RpcError {
            code: 1,
            message: message.into(),
        }
    }

    /// A parameter that does not decode (-32700).
    pub fn param(method: &str, index: usize, why: impl std::fmt::Display) -> RpcError {
        RpcError {
            code: -32700,
            message: format!("unmarshaling params for '{method}' (param: {index}): {why}"),
        }
    }

    pub fn unknown_method(method: &str) -> RpcError {
        RpcError {
            code: -32601,
            message: format!("method '{method}' not found"),
        }
    }

    /// Checks the parameter count as go-jsonrpc does (-32602).
    pub fn expect_params(method: &str, params: &[Value], count: usize) -> Result<(), RpcError> {
        if params.len() == count {
            return Ok(());
        }
        Err(RpcError {
            code: -32602,
            message: format!(
                "wrong param count (method '{method}'): {} != {count}",
                params.len()
            ),
        })
    }

    /// Refuses a call above the token's permission, as Lotus words it (code 1).
    pub fn require(granted: Perm, method: &str, needed: Perm) -> Result<(), RpcError> {
        if granted >= needed {
            return Ok(());
        }
        let short = method.strip_prefix("Filecoin.").unwrap_or(method);
        Err(RpcError::method(format!(
            "missing permission to invoke '{short}' (need '{}')",
            needed.name()
        )))
    }

    /// The HTTP status this error gets when it answers a single request: a method's own error
    /// is 200, a protocol error 500 (go-jsonrpc).
    fn status(&self) -> StatusCode {
        if self.code == 1 || self.code >= 2 {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// A token was given and does not verify: HTTP 401 with an empty body.
#[derive(Debug, Clone, Copy)]
pub struct Unauthorized;

/// A table of JSON-RPC methods.
pub trait RpcMethods: Send + Sync + 'static {
    /// What a request's bearer token grants. No token is `read` (Lotus's default).
    fn permission(&self, token: Option<&str>) -> Result<Perm, Unauthorized> {
        match token {
            None => Ok(Perm::Read),
            Some(_) => Err(Unauthorized),
        }
    }

    /// Runs `method` with `params` for a caller holding `granted`.
    fn call<'a>(
        &'a self,
        method: &'a str,
        params: &'a [Value],
        granted: Perm,
    ) -> BoxFuture<'a, Result<Value, RpcError>>;
}

/// One request object's answer, and the status it would get alone. A notification (no id)
/// runs and gets no answer.
async fn answer(
    methods: &dyn RpcMethods,
    request: &Value,
    granted: Perm,
) -> Option<(Value, StatusCode)> {
    let id = request.get("id").cloned();
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let outcome = match request.get("params") {
        None | Some(Value::Null) => methods.call(method, &[], granted).await,
        Some(Value::Array(params)) => methods.call(method, params, granted).await,
        Some(_) => Err(RpcError {
            code: -32700,
            message: format!("unmarshaling params for '{method}': not an array"),
        }),
    };
    let id = id?;
    Some(match outcome {
        Ok(result) => (
            json!({"jsonrpc": "2.0", "id": id, "result": result}),
            StatusCode::OK,
        ),
        Err(e) => error(id, &e),
    })
}

fn error(id: Value, e: &RpcError) -> (Value, StatusCode) {
    (
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}}),
        e.status(),
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

/// The token of a request: `Authorization: Bearer …`, or a `token` query value. A header
/// without the `Bearer ` prefix is refused.
fn token(headers: &HeaderMap, query: Option<&str>) -> Result<Option<String>, Unauthorized> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| Unauthorized)?;
        return match text.strip_prefix("Bearer ") {
            Some(token) => Ok(Some(token.trim().to_string())),
            None => Err(Unauthorized),
        };
    }
    // A JWT is base64url and dots: it needs no percent-decoding.
    Ok(query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(str::to_string))
}

/// The answer to one request body (a call or a batch) and its HTTP status; `None` when it held
/// only notifications.
async fn respond(
    methods: &dyn RpcMethods,
    body: &[u8],
    granted: Perm,
) -> Option<(Value, StatusCode)> {
    let invalid = || {
        let e = RpcError {
            code: -32600,
            message: "Invalid request".into(),
        };
        Some((error(Value::Null, &e).0, StatusCode::BAD_REQUEST))
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return invalid();
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        let e = RpcError {
            code: -32700,
            message: "Parse error".into(),
        };
        return Some(error(Value::Null, &e));
    };
    match request {
        Value::Array(calls) if calls.is_empty() => invalid(),
        Value::Array(calls) => {
            // A small body can ask for a lot: past the answer budget, calls get Lotus's
            // "limit exceeded" instead of their results.
            let mut budget = MAX_BATCH_ANSWER_BYTES;
            let mut answers = Vec::new();
            for call in &calls {
                if budget == 0 {
                    if let Some(id) = call.get("id") {
                        let e = RpcError {
                            code: -32005,
                            message: "limit exceeded: the batch's answer is too large".into(),
                        };
                        answers.push(error(id.clone(), &e).0);
                    }
                    continue;
                }
                if let Some((a, _)) = answer(methods, call, granted).await {
                    budget = budget.saturating_sub(a.to_string().len().max(1));
                    answers.push(a);
                }
            }
            Some((Value::Array(answers), StatusCode::OK))
        }
        single => answer(methods, &single, granted).await,
    }
}

fn permission(
    methods: &dyn RpcMethods,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Perm, Unauthorized> {
    token(headers, query).and_then(|t| methods.permission(t.as_deref()))
}

/// `POST /rpc/v1`.
pub(crate) async fn handle(
    State(Rpc { methods, .. }): State<Rpc>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(granted) = permission(methods.as_ref(), &headers, query.as_deref()) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match respond(methods.as_ref(), &body, granted).await {
        Some((body, status)) => reply(status, &body),
        None => StatusCode::OK.into_response(),
    }
}

/// Tells the WebSockets a server holds open that it is stopping. A graceful shutdown ends plain
/// HTTP connections itself, but an upgraded connection is no longer its to end: without this, a
/// client that keeps its socket open would keep the server's store open too.
#[derive(Clone, Debug)]
pub struct Closing(watch::Receiver<bool>);

impl Closing {
    /// A signal and its sender: `send(true)` closes every socket.
    pub fn new() -> (watch::Sender<bool>, Closing) {
        let (close, closing) = watch::channel(false);
        (close, Closing(closing))
    }

    /// A signal that never fires (the server's sockets end with the runtime).
    pub fn never() -> Closing {
        Closing::new().1
    }

    async fn fired(mut self) {
        if self.0.wait_for(|closed| *closed).await.is_err() {
            std::future::pending::<()>().await; // the sender is gone: it never fires
        }
    }
}

/// The `/rpc/v1` routes' state.
#[derive(Clone)]
pub(crate) struct Rpc {
    pub methods: Arc<dyn RpcMethods>,
    pub closing: Closing,
}

/// `GET /rpc/v1` with `Connection: upgrade`: the same methods over a WebSocket, as the Lotus CLI
/// and go-jsonrpc clients dial them (`ws://HOST/rpc/v1`). Each text message is a request or a
/// batch; requests run concurrently (a `StateWaitMsg` does not hold up the rest) and each answer
/// is one message.
pub(crate) async fn websocket(
    State(Rpc { methods, closing }): State<Rpc>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Ok(granted) = permission(methods.as_ref(), &headers, query.as_deref()) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    upgrade
        .max_message_size(MAX_WEBSOCKET_MESSAGE)
        .on_upgrade(move |socket| async move {
            tokio::select! {
                () = serve_socket(socket, methods, granted) => {}
                () = closing.fired() => {}
            }
        })
}

/// A WebSocket message's size cap (Lotus's request limit is 100 MiB; a prollydb node's body
/// limit is far lower, and so is this).
const MAX_WEBSOCKET_MESSAGE: usize = 16 << 20;

async fn serve_socket(socket: WebSocket, methods: Arc<dyn RpcMethods>, granted: Perm) {
    use futures::{SinkExt, StreamExt};
    // Tasks in JoinSets: when the server closes the socket (this future is dropped), its calls
    // and its writer are aborted with it rather than left holding the methods.
    let (mut sink, mut stream) = socket.split();
    let (answers, mut outbox) = tokio::sync::mpsc::channel::<String>(64);
    let mut writer = tokio::task::JoinSet::new();
    writer.spawn(async move {
        while let Some(text) = outbox.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let mut calls = tokio::task::JoinSet::new();
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            Some(_) = calls.join_next(), if !calls.is_empty() => continue,
        };
        let body = match message {
            Some(Ok(Message::Text(text))) => Bytes::from(text.as_str().to_owned()),
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            Some(Ok(_)) => continue,
        };
        let (methods, answers) = (methods.clone(), answers.clone());
        calls.spawn(async move {
            if let Some((answer, _)) = respond(methods.as_ref(), &body, granted).await {
                let _ = answers.send(answer.to_string()).await;
            }
        });
    }
    // The client is gone: the calls in flight still finish (a pushed message is pushed).
    drop(answers);
    while calls.join_next().await.is_some() {}
    writer.join_next().await;
}
