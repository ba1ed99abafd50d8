//! Tree nodes and their DAG-CBOR encoding.
//!
//! A leaf is `[0, [key...], [value...]]`; an internal node is
//! `[level, [key...], [child CID...], [child entry count...]]`. Keys are byte strings in strictly
//! ascending order. An internal key is the LAST (largest) key of its child's subtree.

use std::fmt;

use cid::Cid;
use ipld_core::ipld::Ipld;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::{ByteBuf, Bytes};

use crate::size;

/// What an entry holds: data in a leaf, a child link in an internal node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Data(Ipld),
    Child { cid: Cid, count: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub value: Value,
}

impl Entry {
    /// The bytes this entry adds to its node's encoding: key, value and, for a child, its count.
    pub fn encoded_len(&self) -> usize {
        size::bytes_len(self.key.len())
            + match &self.value {
                Value::Data(v) => size::ipld_len(v),
                Value::Child { cid, count } => size::cid_len(cid) + size::head_len(*count),
            }
    }

    pub fn count(&self) -> u64 {
        match self.value {
            Value::Data(_) => 1,
            Value::Child { count, .. } => count,
        }
    }
}

/// A decoded node. Level 0 holds data entries, higher levels hold child entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub level: u32,
    pub entries: Vec<Entry>,
}

impl Node {
    pub fn empty_leaf() -> Self {
        Node {
            level: 0,
            entries: Vec::new(),
        }
    }

    /// The node's last key, which is also its key in the parent.
    pub fn last_key(&self) -> Option<&[u8]> {
        self.entries.last().map(|e| e.key.as_slice())
    }

    /// Entries in this node's subtree.
    pub fn count(&self) -> u64 {
        self.entries.iter().map(Entry::count).sum()
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serializing a well-formed node to a Vec cannot fail: values were validated on entry.
        fvm_ipld_encoding::to_vec(self).expect("node encodes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Node, String> {
        let node: Node = fvm_ipld_encoding::from_slice(bytes).map_err(|e| e.to_string())?;
        node.check_shape()?;
        Ok(node)
    }

    /// Structural rules a decoder enforces: keys strictly ascending, no empty internal node,
    /// counts positive.
    fn check_shape(&self) -> Result<(), String> {
        if self.level > 0 && self.entries.is_empty() {
            return Err("empty internal node".into());
        }
        for pair in self.entries.windows(2) {
            if pair[0].key >= pair[1].key {
                return Err("keys not strictly ascending".into());
            }
        }
        if self.entries.iter().any(|e| e.count() == 0) {
            return Err("child with zero entries".into());
        }
        Ok(())
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Keys<'a>(&'a [Entry]);
        impl Serialize for Keys<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|e| Bytes::new(&e.key)))
            }
        }
        struct Column<'a, F>(&'a [Entry], F);
        impl<'a, T: Serialize + 'a, F: Fn(&'a Entry) -> T> Serialize for Column<'a, F> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(&self.1))
            }
        }
        let entries = &self.entries;
        if self.level == 0 {
            let mut t = s.serialize_tuple(3)?;
            t.serialize_element(&0u32)?;
            t.serialize_element(&Keys(entries))?;
            t.serialize_element(&Column(entries, data_of))?;
            t.end()
        } else {
            let mut t = s.serialize_tuple(4)?;
            t.serialize_element(&self.level)?;
            t.serialize_element(&Keys(entries))?;
            t.serialize_element(&Column(entries, link_of))?;
            t.serialize_element(&Column(entries, Entry::count))?;
            t.end()
        }
    }
}

fn data_of(entry: &Entry) -> &Ipld {
    match &entry.value {
        Value::Data(v) => v,
        Value::Child { .. } => &Ipld::Null, // never in a leaf: nodes are built by level
    }
}

fn link_of(entry: &Entry) -> Option<Cid> {
    match &entry.value {
        Value::Child { cid, .. } => Some(*cid),
        Value::Data(_) => None, // never in an internal node
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a prolly tree node [level, keys, values(, counts)]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let level: u32 = next(&mut seq, "level")?;
                let keys: Vec<ByteBuf> = next(&mut seq, "keys")?;
                let entries = if level == 0 {
                    let values: Vec<Ipld> = next(&mut seq, "values")?;
                    same_len(keys.len(), values.len())?;
                    keys.into_iter()
                        .zip(values)
                        .map(|(k, v)| Entry {
                            key: k.into_vec(),
                            value: Value::Data(v),
                        })
                        .collect()
                } else {
                    let links: Vec<Cid> = next(&mut seq, "links")?;
                    let counts: Vec<u64> = next(&mut seq, "counts")?;
                    same_len(keys.len(), links.len())?;
                    same_len(keys.len(), counts.len())?;
                    keys.into_iter()
                        .zip(links.into_iter().zip(counts))
                        .map(|(k, (cid, count))| Entry {
                            key: k.into_vec(),
                            value: Value::Child { cid, count },
                        })
                        .collect()
                };
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("trailing fields in node"));
                }
                Ok(Node { level, entries })
            }
        }
        fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
            seq: &mut A,
            what: &str,
        ) -> Result<T, A::Error> {
            seq.next_element()?
                .ok_or_else(|| de::Error::custom(format!("node lacks its {what}")))
        }
        fn same_len<E: de::Error>(a: usize, b: usize) -> Result<(), E> {
            if a == b {
                Ok(())
            } else {
                Err(E::custom(format!(
                    "node columns differ in length: {a} keys, {b} values"
                )))
            }
        }
        d.deserialize_seq(NodeVisitor)
    }
}
