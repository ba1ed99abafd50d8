//! A CARv1 response body, streamed: a blocking thread walks the DAG depth-first and sends chunks
//! through a bounded channel, so a CAR of any size takes a few chunks of memory. A block that
//! cannot be read mid-walk ends the body with an error (the connection is cut before the final
//! chunk), so a client sees a truncated CAR as a failed transfer, not as a short answer.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, Bytes};
use cid::Cid;
use tokio::sync::mpsc;

use super::dag::{self, DagError, Resolved};
use super::negotiate::Scope;
use crate::block;
use crate::server::Served;

/// Bytes gathered before a chunk is sent, and chunks in flight.
const CHUNK_BYTES: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 8;

/// What the walking thread sends. The body ends cleanly only on `End`: a walk that stops any
/// other way (an unreadable block, a panic, a runtime shutting down) cuts the response.
enum Msg {
    Chunk(Bytes),
    End,
    Fail(String),
}

/// What the walk emits, after the header.
pub(super) struct Walk {
    pub scope: Scope,
    pub dups: bool,
    /// How long a reader may leave a chunk unread before the walk gives up on it.
    pub stall: Duration,
}

/// The body of a CAR whose header names `root` and whose blocks are those `resolved` crossed,
/// then the terminus's DAG per `walk`.
pub(super) fn body<S: Served>(store: Arc<S>, root: Cid, resolved: Resolved, walk: Walk) -> Body {
    let (tx, rx) = mpsc::channel::<Msg>(CHUNKS_IN_FLIGHT);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut sink = Sink {
            tx,
            runtime,
            stall: walk.stall,
            buf: Vec::with_capacity(CHUNK_BYTES),
        };
        match Walker::new(&*store, &mut sink, &walk).run(root, resolved) {
            Ok(()) => sink.finish(),
            Err(Stop::Gone) => {}
            Err(Stop::Failed(e)) => sink.fail(e.to_string()),
        }
    });
    Body::from_stream(chunks(rx))
}

/// An empty body of unknown length: what a HEAD of a CAR answers, so that no
/// `Content-Length: 0` is sent for it.
pub(super) fn unsized_empty() -> Body {
    Body::from_stream(futures::stream::empty::<Result<Bytes, std::io::Error>>())
}

/// The channel as a stream of body chunks, failing unless the walk said it was done.
fn chunks(
    mut rx: mpsc::Receiver<Msg>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let mut failure: Option<std::io::Error> = None;
    let mut over = false;
    futures::stream::poll_fn(move |cx| {
        if let Some(error) = failure.take() {
            over = true;
            return Poll::Ready(Some(Err(error)));
        }
        if over {
            return Poll::Ready(None);
        }
        let why = match std::task::ready!(rx.poll_recv(cx)) {
            Some(Msg::Chunk(bytes)) => return Poll::Ready(Some(Ok(bytes))),
            Some(Msg::End) => {
                over = true;
                return Poll::Ready(None);
            }
            Some(Msg::Fail(why)) => why,
            None => "the CAR walk ended early".to_owned(),
        };
        // The error makes the server drop the connection, and with it any chunk still in its
        // write buffer: yield once first, so the blocks already sent get flushed.
        failure = Some(std::io::Error::other(why));
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// Why a walk ended early.
enum Stop {
    /// The reader went away or stalled: nobody to tell.
    Gone,
    Failed(DagError),
}

impl From<DagError> for Stop {
    fn from(e: DagError) -> Self {
        Stop::Failed(e)
    }
}

struct Sink {
    tx: mpsc::Sender<Msg>,
    runtime: tokio::runtime::Handle,
    stall: Duration,
    buf: Vec<u8>,
}

impl Sink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stop> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.send(Msg::Chunk(chunk))
    }

    /// Waits for room in the channel, but not forever: a reader that stops reading must not hold
    /// this thread.
    fn send(&self, msg: Msg) -> Result<(), Stop> {
        let sent = self
            .runtime
            .block_on(tokio::time::timeout(self.stall, self.tx.send(msg)));
        match sent {
            Ok(Ok(())) => Ok(()),
            _ => Err(Stop::Gone),
        }
    }

    fn finish(mut self) {
        if self.flush().is_ok() {
            let _ = self.send(Msg::End);
        }
    }

    /// Sends what is complete, then an error, which makes the server cut the response.
    fn fail(mut self, why: String) {
        if self.flush().is_ok() {
            let _ = self.send(Msg::Fail(why));
        }
    }
}

struct Walker<'a, S> {
    store: &'a S,
    sink: &'a mut Sink,
    scope: Scope,
    /// With `dups=n`, the blocks already met (`None` with `dups=y`: every meeting is written).
    seen: Option<HashSet<Cid>>,
}

impl<'a, S: Served> Walker<'a, S> {
    fn new(store: &'a S, sink: &'a mut Sink, walk: &Walk) -> Self {
        Walker {
            store,
            sink,
            scope: walk.scope,
            seen: (!walk.dups).then(HashSet::new),
        }
    }

    fn run(mut self, root: Cid, resolved: Resolved) -> Result<(), Stop> {
        self.sink.write(&header(&root))?;
        for (cid, bytes) in &resolved.crossed {
            if self.first_meeting(cid) {
                self.emit(cid, bytes)?;
            }
        }
        let (cid, bytes) = resolved.terminus;
        if !self.first_meeting(&cid) {
            return Ok(());
        }
        self.emit(&cid, &bytes)?;
        if self.scope == Scope::All {
            self.descend(&cid, &bytes)?;
        }
        Ok(())
    }

    /// Everything below `cid`, depth-first, pre-order, links in encoded order. An explicit
    /// stack: a deep DAG must not overflow the thread's stack.
    fn descend(&mut self, cid: &Cid, bytes: &[u8]) -> Result<(), Stop> {
        let mut stack = vec![dag::links(cid, bytes)?.into_iter()];
        while let Some(top) = stack.last_mut() {
            let Some(next) = top.next() else {
                stack.pop();
                continue;
            };
            // A block met before was written with everything below it.
            if !self.first_meeting(&next) {
                continue;
            }
            let bytes = dag::load(self.store, &next)?;
            self.emit(&next, &bytes)?;
            stack.push(dag::links(&next, &bytes)?.into_iter());
        }
        Ok(())
    }

    fn first_meeting(&mut self, cid: &Cid) -> bool {
        self.seen.as_mut().is_none_or(|seen| seen.insert(*cid))
    }

    /// Writes a section; identity CIDs are never written (their bytes are in the CID), though
    /// their links are still followed.
    fn emit(&mut self, cid: &Cid, bytes: &[u8]) -> Result<(), Stop> {
        if block::inline(cid).is_some() {
            return Ok(());
        }
        let cid_bytes = cid.to_bytes();
        let mut prefix = Vec::with_capacity(cid_bytes.len() + 10);
        varint(&mut prefix, (cid_bytes.len() + bytes.len()) as u64);
        prefix.extend_from_slice(&cid_bytes);
        self.sink.write(&prefix)?;
        self.sink.write(bytes)
    }
}

/// Unsigned LEB128.
fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A CBOR head in shortest form.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend([major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend((n as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend(n.to_be_bytes());
        }
    }
}

/// The length-prefixed CARv1 header, DAG-CBOR `{"roots": [root], "version": 1}` ("roots" is the
/// shorter key, so it comes first).
pub(super) fn header(root: &Cid) -> Vec<u8> {
    let cid_bytes = root.to_bytes();
    let mut map = Vec::with_capacity(cid_bytes.len() + 24);
    cbor_head(&mut map, 5, 2);
    cbor_head(&mut map, 3, 5);
    map.extend_from_slice(b"roots");
    cbor_head(&mut map, 4, 1);
    cbor_head(&mut map, 6, 42);
    cbor_head(&mut map, 2, cid_bytes.len() as u64 + 1);
    map.push(0);
    map.extend_from_slice(&cid_bytes);
    cbor_head(&mut map, 3, 7);
    map.extend_from_slice(b"version");
    cbor_head(&mut map, 0, 1);
    let mut out = Vec::with_capacity(map.len() + 2);
    varint(&mut out, map.len() as u64);
    out.extend(map);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipld_core::ipld::Ipld;

    #[test]
    fn header_is_canonical_dag_cbor() {
        let root: Cid = "bafkqaaa".parse().unwrap();
        let bytes = header(&root);
        assert_eq!(bytes[0] as usize, bytes.len() - 1);
        let decoded = prolly_tree::decode_ipld(&bytes[1..]).unwrap();
        let Ipld::Map(map) = decoded else {
            panic!("not a map")
        };
        assert_eq!(map["roots"], Ipld::List(vec![Ipld::Link(root)]));
        assert_eq!(map["version"], Ipld::Integer(1));
    }

    #[test]
    fn heads_and_varints() {
        let mut out = Vec::new();
        cbor_head(&mut out, 2, 300);
        assert_eq!(out, [0x59, 0x01, 0x2c]);
        out.clear();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
    }
}
