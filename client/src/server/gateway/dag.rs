//! Reading the DAG behind a gateway request: loading blocks (identity CIDs from the CID itself),
//! the links of a block in their encoded order, and DAG-CBOR pathing from the root CID.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;

use crate::block;

pub(super) const DAG_CBOR: u64 = 0x71;

/// Why a block or a path could not be read.
#[derive(Debug)]
pub(super) enum DagError {
    Missing(Cid),
    /// A path segment names nothing in its block.
    NoSuchPath(String),
    Malformed(Cid, &'static str),
    Store(String),
}

impl std::fmt::Display for DagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DagError::Missing(cid) => write!(f, "block {cid} is not here"),
            DagError::NoSuchPath(p) => write!(f, "no {p:?} on this path"),
            DagError::Malformed(cid, why) => write!(f, "block {cid}: {why}"),
            DagError::Store(e) => write!(f, "store: {e}"),
        }
    }
}

/// A block's bytes: an identity CID carries them; any other comes from `store`.
pub(super) fn load<S: Blockstore>(store: &S, cid: &Cid) -> Result<Vec<u8>, DagError> {
    if let Some(bytes) = block::inline(cid) {
        return Ok(bytes.to_vec());
    }
    match store.get(cid) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(DagError::Missing(*cid)),
        Err(e) => Err(DagError::Store(e.to_string())),
    }
}

/// The CIDs `bytes` links to, in encoded order. Only DAG-CBOR is read: raw blocks link nothing,
/// and other codecs are leaves to this gateway.
pub(super) fn links(cid: &Cid, bytes: &[u8]) -> Result<Vec<Cid>, DagError> {
    if cid.codec() != DAG_CBOR {
        return Ok(Vec::new());
    }
    crate::dag::scan_links(bytes).map_err(|why| DagError::Malformed(*cid, why))
}

/// Where a path leads: the blocks crossed on the way (root first) and the terminus block.
pub(super) struct Resolved {
    pub crossed: Vec<(Cid, Vec<u8>)>,
    pub terminus: (Cid, Vec<u8>),
}

impl Resolved {
    /// Every block the path touched, the terminus last (the `X-Ipfs-Roots` list).
    pub(super) fn cids(&self) -> impl Iterator<Item = &Cid> {
        self.crossed
            .iter()
            .map(|(c, _)| c)
            .chain(std::iter::once(&self.terminus.0))
    }
}

/// Follows `segments` from `root`: each is a map key or a list index inside the current block,
/// and a link crosses into the next block. A path that ends inside a block has that block as its
/// terminus.
pub(super) fn resolve<S: Blockstore>(
    store: &S,
    root: Cid,
    segments: &[String],
) -> Result<Resolved, DagError> {
    let mut crossed = Vec::new();
    let mut current = (root, load(store, &root)?);
    let mut rest = segments;
    while !rest.is_empty() {
        let (cid, bytes) = &current;
        let mut node = decode(cid, bytes)?;
        // Step inside this block until a link is met or the path ends.
        let next = loop {
            let Some((segment, tail)) = rest.split_first() else {
                break None;
            };
            rest = tail;
            node = step(&node, segment).ok_or_else(|| DagError::NoSuchPath(segment.clone()))?;
            if let Ipld::Link(link) = node {
                break Some(link);
            }
        };
        let Some(link) = next else { break };
        let bytes = load(store, &link)?;
        crossed.push(std::mem::replace(&mut current, (link, bytes)));
    }
    Ok(Resolved {
        crossed,
        terminus: current,
    })
}

fn decode(cid: &Cid, bytes: &[u8]) -> Result<Ipld, DagError> {
    if cid.codec() != DAG_CBOR {
        return Err(DagError::NoSuchPath(format!(
            "a path inside codec 0x{:x}",
            cid.codec()
        )));
    }
    prolly_tree::decode_ipld(bytes).map_err(|_| DagError::Malformed(*cid, "not DAG-CBOR"))
}

fn step(node: &Ipld, segment: &str) -> Option<Ipld> {
    match node {
        Ipld::Map(map) => map.get(segment).cloned(),
        Ipld::List(list) => list.get(segment.parse::<usize>().ok()?).cloned(),
        _ => None,
    }
}
