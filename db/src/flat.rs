//! Documents of scalar fields, held encoded: what an import of a table (a CSV file) makes of a
//! row. Building, checking and freeing an IPLD map per row was most of such an import's reading
//! thread (`BTreeMap` construction alone an eighth of the whole import's CPU in a `perf` profile
//! of cli-bench); a flat document is its id and its body's bytes, written as the row is read.

use ipld_core::ipld::Ipld;
use prolly_tree::{RawValue, Scalar};

use crate::error::Refusal;
use crate::path::ID_FIELD;

/// A document's `_id` and its other fields, all scalars, as the body a document is stored as.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatDocument {
    pub(crate) id: Ipld,
    pub(crate) body: RawValue,
}

impl FlatDocument {
    /// `fields` are in DAG-CBOR's key order (shorter keys first, then bytewise), distinct, and
    /// none is `_id`. The id is checked where the document is written, as any document's is.
    pub fn new<'a>(
        id: Ipld,
        fields: impl ExactSizeIterator<Item = (&'a str, Scalar<'a>)>,
    ) -> Result<FlatDocument, Refusal> {
        let mut named_id = false;
        let body = RawValue::scalar_map(fields.inspect(|(key, _)| named_id |= *key == ID_FIELD))
            .map_err(|e| Refusal::BadDocument(e.to_string()))?;
        if named_id {
            return Err(Refusal::BadDocument(
                "a flat document's fields do not include _id: it is given apart".into(),
            ));
        }
        Ok(FlatDocument { id, body })
    }

    pub fn id(&self) -> &Ipld {
        &self.id
    }

    /// The stored body: the fields other than `_id`.
    pub fn body(&self) -> &RawValue {
        &self.body
    }

    /// The whole document, `_id` included.
    pub fn to_ipld(&self) -> Ipld {
        let body = self.body.to_ipld().expect("a flat body is a valid map");
        crate::document::with_id(body, self.id.clone()).expect("a flat body is a map")
    }
}
