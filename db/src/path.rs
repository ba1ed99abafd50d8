//! Field paths: dotted names into nested maps (`author.name`). A path never steps into a list;
//! conditions on a list field match its elements (see `filter`).

use std::collections::BTreeMap;
use std::fmt;

use ipld_core::ipld::Ipld;

use crate::error::{Error, Refusal};

/// The field that holds a document's primary key in results and filters. It is not stored in
/// the document body: the tree key holds it.
pub const ID_FIELD: &str = "_id";

/// Longest accepted path, in bytes, and most segments.
pub const MAX_PATH_BYTES: usize = 256;
pub const MAX_SEGMENTS: usize = 16;

/// A validated dotted path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(String);

impl Path {
    /// Checks a path: non-empty segments separated by single dots, no segment starting with `$`,
    /// no NUL, at most 16 segments and 256 bytes.
    pub fn parse(text: &str) -> Result<Path, Error> {
        let bad = |why: &'static str| {
            Err(Refusal::BadPath {
                path: text.to_string(),
                why,
            }
            .into())
        };
        if text.is_empty() {
            return bad("empty");
        }
        if text.len() > MAX_PATH_BYTES {
            return bad("longer than 256 bytes");
        }
        let segments: Vec<&str> = text.split('.').collect();
        if segments.len() > MAX_SEGMENTS {
            return bad("more than 16 segments");
        }
        for segment in segments {
            if segment.is_empty() {
                return bad("empty segment");
            }
            if segment.starts_with('$') {
                return bad("a segment starts with '$'");
            }
            if segment.contains('\0') {
                return bad("contains NUL");
            }
        }
        Ok(Path(text.to_string()))
    }

    pub fn id() -> Path {
        Path(ID_FIELD.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_id(&self) -> bool {
        self.0 == ID_FIELD
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// The value at this path, if every step is a map holding the next segment.
    pub fn get<'d>(&self, doc: &'d Ipld) -> Option<&'d Ipld> {
        let mut at = doc;
        for segment in self.segments() {
            match at {
                Ipld::Map(map) => at = map.get(segment)?,
                _ => return None,
            }
        }
        Some(at)
    }

    /// The value at this path inside a map (a document body), without wrapping it.
    pub fn get_in<'d>(&self, map: &'d BTreeMap<String, Ipld>) -> Option<&'d Ipld> {
        let mut segments = self.segments();
        let mut at = map.get(segments.next()?)?;
        for segment in segments {
            match at {
                Ipld::Map(map) => at = map.get(segment)?,
                _ => return None,
            }
        }
        Some(at)
    }

    /// Sets the value at this path, creating maps on the way (used to rebuild projections).
    /// Refuses to step through a non-map value.
    pub fn set(&self, doc: &mut BTreeMap<String, Ipld>, value: Ipld) -> bool {
        let segments: Vec<&str> = self.segments().collect();
        let (last, parents) = segments.split_last().expect("paths are non-empty");
        let mut at = doc;
        for segment in parents {
            let next = at
                .entry(segment.to_string())
                .or_insert_with(|| Ipld::Map(BTreeMap::new()));
            match next {
                Ipld::Map(map) => at = map,
                _ => return false,
            }
        }
        at.insert(last.to_string(), value);
        true
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Path {
    /// Removes the value at this path, if there is one.
    pub fn remove(&self, doc: &mut BTreeMap<String, Ipld>) {
        let segments: Vec<&str> = self.segments().collect();
        let (last, parents) = segments.split_last().expect("paths are non-empty");
        let mut at = doc;
        for segment in parents {
            match at.get_mut(*segment) {
                Some(Ipld::Map(map)) => at = map,
                _ => return,
            }
        }
        at.remove(*last);
    }
}
