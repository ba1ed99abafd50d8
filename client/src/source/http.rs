//! What the HTTP sources share: one client setup (rustls with the ring provider) and bounded
//! reads of response bodies.

use std::time::Duration;

use super::FetchError;

/// An HTTP client with `timeout` per request. HTTP/2 is used where a TLS server offers it.
pub fn client(timeout: Duration) -> Result<reqwest::Client, FetchError> {
    // reqwest is built without a TLS provider of its own (no aws-lc, no cmake): install ring
    // as the process default once; a second install fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| FetchError::Transport(format!("building the HTTP client: {e}")))
}

pub(crate) fn transport(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        // The chain of causes says what went wrong (refused, reset, DNS...).
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        FetchError::Transport(text)
    }
}

/// The body, refused past `cap` bytes (checked as it arrives, not after).
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, FetchError> {
    if let Some(len) = response.content_length()
        && len as usize > cap
    {
        return Err(FetchError::TooLarge(len as usize));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > cap {
            return Err(FetchError::TooLarge(body.len() + chunk.len()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Seconds from a `Retry-After` header (the HTTP-date form counts as one second).
pub(crate) fn retry_after(response: &reqwest::Response) -> Duration {
    let secs = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(secs)
}
