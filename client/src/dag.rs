//! Links between blocks: what a DAG-CBOR block points to, and walks over what a store holds.

use std::collections::HashSet;

use cid::Cid;
use ipld_core::ipld::Ipld;

use crate::block::IDENTITY;

/// The DAG-CBOR multicodec; blocks of other codecs (raw, say) link nothing here.
pub const DAG_CBOR: u64 = 0x71;

fn collect(value: &Ipld, out: &mut Vec<Cid>) {
    match value {
        Ipld::Link(cid) => out.push(*cid),
        Ipld::List(items) => items.iter().for_each(|v| collect(v, out)),
        Ipld::Map(map) => map.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// The CIDs block `cid` links, identity CIDs left out (no store holds them). A block that is not
/// valid DAG-CBOR links nothing.
pub fn links(cid: &Cid, bytes: &[u8]) -> Vec<Cid> {
    let mut out = Vec::new();
    if cid.codec() == DAG_CBOR
        && let Ok(value) = prolly_tree::decode_ipld(bytes)
    {
        collect(&value, &mut out);
    }
    out.retain(|c| c.hash().code() != IDENTITY);
    out
}

/// Visits every block reachable from `roots` that `get` finds, each once, depth first. A block
/// `get` does not find ends its branch. Stops at the first error.
pub fn walk<E>(
    roots: impl IntoIterator<Item = Cid>,
    mut get: impl FnMut(&Cid) -> Result<Option<Vec<u8>>, E>,
    mut visit: impl FnMut(&Cid, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut stack: Vec<Cid> = roots.into_iter().collect();
    stack.reverse();
    let mut seen = HashSet::new();
    while let Some(cid) = stack.pop() {
        if cid.hash().code() == IDENTITY || !seen.insert(cid) {
            continue;
        }
        let Some(bytes) = get(&cid)? else {
            continue;
        };
        visit(&cid, &bytes)?;
        let mut children = links(&cid, &bytes);
        children.reverse();
        stack.extend(children);
    }
    Ok(())
}
