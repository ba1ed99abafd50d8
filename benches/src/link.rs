//! A network a user has, on loopback: a TCP proxy in front of a server that delays every request
//! by a fixed latency and caps the bytes flowing back to the client at a bandwidth shared by all
//! connections (the client's downlink), counting the bytes both ways.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// The client's link: its latency per request, its downlink and what crossed it.
pub struct Link {
    latency: Duration,
    bytes_per_sec: f64,
    /// When the downlink is next free.
    next_free: Mutex<Instant>,
    up: AtomicU64,
    down: AtomicU64,
}

impl Link {
    pub fn new(latency: Duration, megabits_per_sec: f64) -> Arc<Link> {
        Arc::new(Link {
            latency,
            bytes_per_sec: megabits_per_sec * 1e6 / 8.0,
            next_free: Mutex::new(Instant::now()),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
        })
    }

    /// Bytes sent and received since the last call (requests and responses, headers included).
    pub fn take_wire_bytes(&self) -> (u64, u64) {
        (
            self.up.swap(0, Ordering::Relaxed),
            self.down.swap(0, Ordering::Relaxed),
        )
    }

    /// When `n` bytes sent now finish arriving, the downlink being shared.
    fn reserve(&self, n: usize) -> Instant {
        let mut next = self.next_free.lock().unwrap();
        let start = (*next).max(Instant::now());
        *next = start + Duration::from_secs_f64(n as f64 / self.bytes_per_sec);
        *next
    }
}

/// Starts a proxy to `target` over `link`; returns its address.
pub async fn proxy(target: SocketAddr, link: Arc<Link>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let link = link.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::join!(
                    upstream(client_read, server_write, link.clone()),
                    downstream(server_read, client_write, link),
                );
            });
        }
    });
    addr
}

/// Client to server: each chunk arrives `latency` after it was sent (chunks are not serialized
/// behind each other's delay).
async fn upstream(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Arc<Link>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let latency = link.latency;
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0 {
                break;
            }
            link.up.fetch_add(n as u64, Ordering::Relaxed);
            if tx
                .send((Instant::now() + latency, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// Server to client: at the link's bandwidth, shared with every other connection.
async fn downstream(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Arc<Link>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        link.down.fetch_add(n as u64, Ordering::Relaxed);
        tokio::time::sleep_until(link.reserve(n)).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
