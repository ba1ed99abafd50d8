//! How blocks are laid out: their bytes appended under a sequence number, and an index from
//! CID to that number. A CID is random, so a table of blocks keyed by CID took every new block
//! into a random page: redb rewrites a page once per commit that touches it, and an import of
//! 336,776 rows (183,726 blocks, 90 MB) wrote 745 MB, most of the committing thread's time.
//! Appended, a commit's blocks fill new pages at the table's end; only the index, a tenth of the
//! size, takes random inserts.

use redb::{ReadableTable, ReadableTableMetadata, Table, WriteTransaction};

use super::{StoreError, redb_err};

/// Where a block is: its sequence number in [`super::BLOCK_DATA`] and its length (so that
/// eviction and collection count bytes without reading blocks).
pub(super) type Slot = (u64, u32);

/// The block whose CID bytes are `key`, through the index.
pub(super) fn get(
    ids: &impl ReadableTable<&'static [u8], Slot>,
    data: &impl ReadableTable<u64, &'static [u8]>,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(slot) = ids.get(key).map_err(redb_err)? else {
        return Ok(None);
    };
    let (seq, _) = slot.value();
    match data.get(seq).map_err(redb_err)? {
        Some(bytes) => Ok(Some(bytes.value().to_vec())),
        None => Err(StoreError::Corrupt(format!(
            "the index names block {seq}, which is absent"
        ))),
    }
}

/// Blocks being added in a write transaction.
pub(super) struct Appender<'t> {
    ids: Table<'t, &'static [u8], Slot>,
    data: Table<'t, u64, &'static [u8]>,
    next: u64,
}

impl<'t> Appender<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Appender<'t>, StoreError> {
        let ids = txn.open_table(super::BLOCK_IDS).map_err(redb_err)?;
        let data = txn.open_table(super::BLOCK_DATA).map_err(redb_err)?;
        let next = match data.last().map_err(redb_err)? {
            Some((seq, _)) => seq.value() + 1,
            None => 0,
        };
        Ok(Appender { ids, data, next })
    }

    /// Adds a block unless it is held; returns whether it was added. A held block keeps its
    /// bytes: its CID names them.
    pub fn put(&mut self, key: &[u8], bytes: &[u8]) -> Result<bool, StoreError> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| StoreError::Corrupt(format!("a block of {} bytes", bytes.len())))?;
        // One descent in the usual case (a new block); a held one gets its slot back.
        let held = self
            .ids
            .insert(key, (self.next, len))
            .map_err(redb_err)?
            .map(|slot| slot.value());
        if let Some(slot) = held {
            self.ids.insert(key, slot).map_err(redb_err)?;
            return Ok(false);
        }
        self.data.insert(self.next, bytes).map_err(redb_err)?;
        self.next += 1;
        Ok(true)
    }
}

/// Removes the blocks whose CID bytes `doomed` accepts; returns their keys and the bytes and
/// count of the blocks removed and kept.
pub(super) fn remove(
    txn: &WriteTransaction,
    mut doomed: impl FnMut(&[u8]) -> bool,
) -> Result<(Vec<Vec<u8>>, super::GcReport), StoreError> {
    let mut report = super::GcReport::default();
    let mut removed = Vec::new();
    let mut seqs = Vec::new();
    let mut ids = txn.open_table(super::BLOCK_IDS).map_err(redb_err)?;
    ids.retain(|key, (seq, len)| {
        if doomed(key) {
            report.removed_blocks += 1;
            report.removed_bytes += u64::from(len);
            removed.push(key.to_vec());
            seqs.push(seq);
            false
        } else {
            report.kept_blocks += 1;
            report.kept_bytes += u64::from(len);
            true
        }
    })
    .map_err(redb_err)?;
    let mut data = txn.open_table(super::BLOCK_DATA).map_err(redb_err)?;
    seqs.sort_unstable();
    for seq in seqs {
        data.remove(seq).map_err(redb_err)?;
    }
    Ok((removed, report))
}

/// How many blocks are held.
pub(super) fn count(ids: &impl ReadableTableMetadata) -> Result<u64, StoreError> {
    ids.len().map_err(redb_err)
}
