//! The IPFS trustless gateway (PROTOCOLS B): `GET|HEAD /ipfs/{cid}` as a raw block or a CAR.
//!
//! Strict: a request must ask for a raw block or a CAR (`?format=` or `Accept`), or it gets 400.
//! Nothing is fetched from elsewhere, so a block this store lacks is 404 (412 with
//! `Cache-Control: only-if-cached`). Store reads run on blocking threads.

mod car;
mod dag;
mod negotiate;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cid::Cid;
use multihash_codetable::{Code, MultihashDigest};

use self::dag::DagError;
use self::negotiate::{CarParams, Format, Negotiated, Query, RAW_TYPE};
use super::{Served, Shared};

const IMMUTABLE: &str = "public, max-age=29030400, immutable";
const X_IPFS_PATH: HeaderName = HeaderName::from_static("x-ipfs-path");
const X_IPFS_ROOTS: HeaderName = HeaderName::from_static("x-ipfs-roots");

pub(super) async fn handle<S: Served>(
    State(shared): State<Arc<Shared<S>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let request = match Request::parse(&method, &uri, &headers) {
        Ok(request) => request,
        Err(failure) => return failure.into_response(),
    };
    let result = match &request.negotiated.format {
        Format::Raw => raw(&shared, &request).await,
        Format::Car(params) => car(&shared, &request, params).await,
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Why a request gets no content.
#[derive(Debug)]
enum Failure {
    BadRequest(String),
    NotFound(String),
    /// `only-if-cached`, and the root is not here.
    NotCached,
    Internal(String),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Failure::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Failure::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Failure::NotCached => (
                StatusCode::PRECONDITION_FAILED,
                "not in this gateway's store (only-if-cached)".into(),
            ),
            Failure::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        (status, format!("{message}\n")).into_response()
    }
}

/// A request, parsed and checked before any block is read.
struct Request {
    head: bool,
    cid: Cid,
    /// The path after the CID, decoded, empty segments dropped.
    segments: Vec<String>,
    /// `/ipfs/...` exactly as requested (still percent-encoded).
    path: String,
    query: Query,
    raw_query: Option<String>,
    negotiated: Negotiated,
    only_if_cached: bool,
    if_none_match: Vec<String>,
}

impl Request {
    fn parse(method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<Request, Failure> {
        let path = uri.path();
        let rest = path.strip_prefix("/ipfs/").unwrap_or_default();
        let mut parts = rest.split('/');
        let first = negotiate::percent_decode(parts.next().unwrap_or_default(), false);
        let cid = Cid::try_from(first.as_str())
            .map_err(|e| Failure::BadRequest(format!("invalid CID {first:?}: {e}")))?;
        let segments: Vec<String> = parts
            .filter(|s| !s.is_empty())
            .map(|s| negotiate::percent_decode(s, false))
            .collect();
        let query = Query::parse(uri.query());
        let negotiated = negotiate::negotiate(&query, &header_values(headers, header::ACCEPT))
            .map_err(Failure::BadRequest)?;
        if negotiated.format == Format::Raw && !segments.is_empty() {
            return Err(Failure::BadRequest(
                "a raw block has no path: ask for /ipfs/{cid} alone".into(),
            ));
        }
        let only_if_cached = header_values(headers, header::CACHE_CONTROL)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|d| d.trim().eq_ignore_ascii_case("only-if-cached"));
        let if_none_match = header_values(headers, header::IF_NONE_MATCH)
            .iter()
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_owned())
            .collect();
        Ok(Request {
            head: method == Method::HEAD,
            cid,
            segments,
            path: path.to_owned(),
            query,
            raw_query: uri.query().map(str::to_owned),
            negotiated,
            only_if_cached,
            if_none_match,
        })
    }

    /// A missing root: 412 when the client asked for nothing but cached content, else 404.
    fn missing(&self, cid: &Cid) -> Failure {
        if self.only_if_cached {
            Failure::NotCached
        } else {
            Failure::NotFound(format!("block {cid} is not in this gateway's store"))
        }
    }

    /// `If-None-Match` names `etag` (or `*`); weak and strong tags compare alike.
    fn not_modified(&self, etag: &str) -> bool {
        let bare = |t: &str| t.trim_start_matches("W/").to_owned();
        self.if_none_match
            .iter()
            .any(|t| t == "*" || bare(t) == bare(etag))
    }

    /// Where the same response lives with `?format=`, when only `Accept` asked for it.
    fn content_location(&self, extra: &[(&str, &str)]) -> Option<String> {
        if !self.negotiated.from_accept {
            return None;
        }
        let mut query = self.raw_query.clone().unwrap_or_default();
        for (key, value) in extra {
            if self.query.get(key).is_none() {
                if !query.is_empty() {
                    query.push('&');
                }
                query.push_str(&format!("{key}={value}"));
            }
        }
        Some(format!("{}?{query}", self.path))
    }
}

fn header_values(headers: &HeaderMap, name: HeaderName) -> Vec<&str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// `GET|HEAD /ipfs/{cid}` as one block.
async fn raw<S: Served>(shared: &Arc<Shared<S>>, request: &Request) -> Result<Response, Failure> {
    let cid = request.cid;
    let store = shared.store.clone();
    let bytes = blocking(move || dag::load(&*store, &cid)).await?;
    let bytes = bytes.map_err(|e| dag_failure(request, e))?;
    let etag = format!("\"{cid}.raw\"");
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    immutable_headers(headers, request, &etag, &[cid]);
    if request.not_modified(&etag) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    set(headers, header::CONTENT_TYPE, RAW_TYPE);
    set(headers, header::CONTENT_LENGTH, &bytes.len().to_string());
    let name = request
        .query
        .get("filename")
        .map_or_else(|| format!("{cid}.bin"), str::to_owned);
    set(headers, header::CONTENT_DISPOSITION, &attachment(&name));
    if let Some(location) = request.content_location(&[("format", "raw")]) {
        set(headers, header::CONTENT_LOCATION, &location);
    }
    if !request.head {
        *response.body_mut() = Body::from(bytes);
    }
    Ok(response)
}

/// `GET|HEAD /ipfs/{cid}[/path]` as a CAR: the blocks on the path, then the terminus's DAG.
async fn car<S: Served>(
    shared: &Arc<Shared<S>>,
    request: &Request,
    params: &CarParams,
) -> Result<Response, Failure> {
    let (root, segments) = (request.cid, request.segments.clone());
    let store = shared.store.clone();
    let resolved = blocking(move || dag::resolve(&*store, root, &segments)).await?;
    let resolved = resolved.map_err(|e| dag_failure(request, e))?;
    let etag = car_etag(request, params);
    let roots: Vec<Cid> = resolved.cids().copied().collect();
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    immutable_headers(headers, request, &etag, &roots);
    if request.not_modified(&etag) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    set(headers, header::CONTENT_TYPE, &params.content_type());
    set(headers, header::ACCEPT_RANGES, "none");
    set(
        headers,
        header::CONTENT_DISPOSITION,
        &attachment(&car_name(request)),
    );
    let dups = if params.dups { "y" } else { "n" };
    let extra = [
        ("format", "car"),
        ("dag-scope", params.scope.name()),
        ("car-version", "1"),
        ("car-order", "dfs"),
        ("car-dups", dups),
    ];
    if let Some(location) = request.content_location(&extra) {
        set(headers, header::CONTENT_LOCATION, &location);
    }
    if request.head {
        // No body and no length: a CAR's length is not known before it is walked.
        *response.body_mut() = car::unsized_empty();
    } else {
        let walk = car::Walk {
            scope: params.scope,
            dups: params.dups,
            stall: shared.config.request_timeout,
        };
        *response.body_mut() = car::body(shared.store.clone(), root, resolved, walk);
    }
    Ok(response)
}

/// Runs store reads off the async threads; a panic there is a 500, not a dead connection task.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Failure::Internal(format!("the store read failed: {e}")))
}

fn dag_failure(request: &Request, error: DagError) -> Failure {
    match error {
        DagError::Missing(cid) => request.missing(&cid),
        DagError::NoSuchPath(_) => Failure::NotFound(error.to_string()),
        DagError::Malformed(..) => Failure::NotFound(error.to_string()),
        DagError::Store(_) => Failure::Internal(error.to_string()),
    }
}

/// The headers every answer about an `/ipfs/` CID carries, 304s included.
fn immutable_headers(headers: &mut HeaderMap, request: &Request, etag: &str, roots: &[Cid]) {
    set(headers, header::ETAG, etag);
    set(headers, header::CACHE_CONTROL, IMMUTABLE);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::VARY, "Accept");
    set(headers, X_IPFS_PATH, &request.path);
    let roots: Vec<String> = roots.iter().map(Cid::to_string).collect();
    set(headers, X_IPFS_ROOTS, &roots.join(","));
}

/// Sets a header; a value that cannot be one is left out rather than failing the answer.
fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// A CAR's weak Etag: its bytes are one of several valid encodings of the same answer, so the
/// tag names the request (root, path and parameters), hashed.
fn car_etag(request: &Request, params: &CarParams) -> String {
    let key = format!(
        "{}|{}|{}|{}",
        request.segments.join("/"),
        params.scope.name(),
        params.dups,
        params.entity_bytes.as_deref().unwrap_or("")
    );
    let digest = Code::Blake2b256.digest(key.as_bytes());
    let short: String = digest.digest()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("W/\"{}.car.{short}\"", request.cid)
}

/// `?filename=`, else `<cid>.car`, or `<cid>_<last segment>.car` with a path.
fn car_name(request: &Request) -> String {
    if let Some(name) = request.query.get("filename") {
        return name.to_owned();
    }
    match request.segments.last() {
        Some(last) => format!("{}_{last}.car", request.cid),
        None => format!("{}.car", request.cid),
    }
}

/// `attachment; filename="..."`, with an RFC 5987 `filename*` when the name is not plain
/// printable ASCII (a quote or a control character must not break the header).
fn attachment(name: &str) -> String {
    let plain = |c: char| (' '..='~').contains(&c) && c != '"' && c != '\\';
    let fallback: String = name
        .chars()
        .map(|c| if plain(c) { c } else { '_' })
        .collect();
    if name.chars().all(plain) {
        return format!("attachment; filename=\"{name}\"");
    }
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_are_safe() {
        assert_eq!(attachment("a.bin"), "attachment; filename=\"a.bin\"");
        assert_eq!(
            attachment("a\"b\n.bin"),
            "attachment; filename=\"a_b_.bin\"; filename*=UTF-8''a%22b%0A.bin"
        );
        assert!(HeaderValue::from_str(&attachment("é\r\n\0")).is_ok());
    }
}
