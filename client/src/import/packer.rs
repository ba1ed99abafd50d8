//! Documents packed into write batches that each fit in one actor message: a chain refuses a
//! message over its size limit (Lotus: 64 KiB, signature included), so an import through an
//! actor is split by encoded bytes, not by a count of documents.

use ipld_core::ipld::Ipld;
use prolly_db::{Op, WriteBatch};

use super::{ImportError, WriteMode};

/// One batch and the file rows it holds.
pub struct Packed {
    pub batch: WriteBatch,
    pub rows: Vec<u64>,
}

/// Packs documents, in order, into batches of at most `max_bytes` of DAG-CBOR.
pub struct Packer {
    collection: String,
    mode: WriteMode,
    max_bytes: usize,
    batch: WriteBatch,
    rows: Vec<u64>,
    bytes: usize,
    envelope: usize,
}

/// A batch's encoding beyond its ops: that of an empty batch, plus room for the ops list's
/// length to grow from one byte to five.
fn envelope_bytes() -> usize {
    WriteBatch::new().to_cbor().len() + 4
}

impl Packer {
    pub fn new(collection: &str, mode: WriteMode, max_bytes: usize) -> Packer {
        Packer {
            collection: collection.to_string(),
            mode,
            max_bytes,
            batch: WriteBatch::new(),
            rows: Vec::new(),
            bytes: envelope_bytes(),
            envelope: envelope_bytes(),
        }
    }

    fn op(&self, doc: Ipld) -> Op {
        let collection = self.collection.clone();
        match self.mode {
            WriteMode::Insert => Op::Insert { collection, doc },
            WriteMode::Upsert => Op::Upsert { collection, doc },
        }
    }

    /// Adds the document of row `row` of `file`; returns the batch it closed, when it did not
    /// fit in the open one.
    pub fn push(&mut self, file: &str, row: u64, doc: Ipld) -> Result<Option<Packed>, ImportError> {
        let op = self.op(doc);
        let mut alone = WriteBatch::new();
        alone.push(op.clone());
        let size = alone.to_cbor().len() + 4 - self.envelope;
        if size + self.envelope > self.max_bytes {
            return Err(ImportError::row(
                file,
                row,
                format!(
                    "the document takes {size} bytes, more than one message holds ({} bytes)",
                    self.max_bytes
                ),
            ));
        }
        let closed = if self.bytes + size > self.max_bytes {
            self.take()
        } else {
            None
        };
        self.batch.push(op);
        self.rows.push(row);
        self.bytes += size;
        Ok(closed)
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The open batch, if it holds anything.
    pub fn take(&mut self) -> Option<Packed> {
        if self.rows.is_empty() {
            return None;
        }
        self.bytes = self.envelope;
        Some(Packed {
            batch: std::mem::take(&mut self.batch),
            rows: std::mem::take(&mut self.rows),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batch_fits_and_nothing_is_lost() {
        let mut packer = Packer::new("c", WriteMode::Insert, 4096);
        let mut batches = Vec::new();
        for i in 0..500u64 {
            let doc = prolly_db::parse_json(&format!(
                r#"{{"_id": {i}, "text": "{}"}}"#,
                "x".repeat((i % 97) as usize)
            ))
            .unwrap();
            batches.extend(packer.push("f", i + 1, doc).unwrap());
        }
        batches.extend(packer.take());
        assert!(batches.len() > 5);
        for packed in &batches {
            assert!(packed.batch.to_cbor().len() <= 4096);
        }
        let rows: Vec<u64> = batches.iter().flat_map(|p| p.rows.clone()).collect();
        assert_eq!(rows, (1..=500).collect::<Vec<_>>());
        let big = prolly_db::parse_json(&format!(r#"{{"_id": 1, "t": "{}"}}"#, "y".repeat(5000)))
            .unwrap();
        let refused = packer.push("f", 9, big).err().unwrap().to_string();
        assert!(
            refused.starts_with("f: row 9: the document takes"),
            "{refused}"
        );
    }
}
