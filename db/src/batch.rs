//! `WriteBatch`: schema changes and document writes, as Rust types, JSON and canonical DAG-CBOR.
//! `write` applies them.
//!
//! IPLD form: `{"v": 1, "ops": [op, …]}`, each op a map with `"op"` naming it:
//!
//! | op | fields |
//! |---|---|
//! | `create_collection`, `drop_collection` | `collection` |
//! | `create_index` | `collection`, `index` (an index definition) |
//! | `drop_index` | `collection`, `name` |
//! | `insert` | `collection`, `doc` (a map; `_id` generated when absent) |
//! | `upsert` | `collection`, `doc` (with `_id`): insert, or replace the whole document |
//! | `update` | `collection`, `id`, and `replace` (a new body) or `set` (path → value) / `unset` (paths) |
//! | `delete` | `collection`, `id` (deleting an absent document does nothing) |

use ipld_core::ipld::Ipld;

use crate::catalog::IndexDef;
use crate::error::Result;
use crate::form::FORM_VERSION;
use crate::form::{self, Map};
use crate::path::Path;

/// Most operations in one batch.
pub const MAX_OPS: usize = 1_000_000;

/// How `update` changes a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// A new body (any `_id` in it must equal the document's).
    Replace(Map),
    /// Set some paths and remove others.
    Merge {
        set: Vec<(Path, Ipld)>,
        unset: Vec<Path>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    CreateCollection {
        collection: String,
    },
    DropCollection {
        collection: String,
    },
    CreateIndex {
        collection: String,
        index: IndexDef,
    },
    DropIndex {
        collection: String,
        name: String,
    },
    Insert {
        collection: String,
        doc: Ipld,
    },
    Upsert {
        collection: String,
        doc: Ipld,
    },
    Update {
        collection: String,
        id: Ipld,
        patch: Patch,
    },
    Delete {
        collection: String,
        id: Ipld,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteBatch {
    pub ops: Vec<Op>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }

    pub fn create_collection(&mut self, name: &str) -> &mut Self {
        self.push(Op::CreateCollection {
            collection: name.into(),
        })
    }

    pub fn create_index(&mut self, collection: &str, index: IndexDef) -> &mut Self {
        self.push(Op::CreateIndex {
            collection: collection.into(),
            index,
        })
    }

    pub fn insert(&mut self, collection: &str, doc: Ipld) -> &mut Self {
        self.push(Op::Insert {
            collection: collection.into(),
            doc,
        })
    }

    pub fn upsert(&mut self, collection: &str, doc: Ipld) -> &mut Self {
        self.push(Op::Upsert {
            collection: collection.into(),
            doc,
        })
    }

    pub fn delete(&mut self, collection: &str, id: Ipld) -> &mut Self {
        self.push(Op::Delete {
            collection: collection.into(),
            id,
        })
    }

    pub fn to_ipld(&self) -> Ipld {
        let ops = self.ops.iter().map(Op::to_ipld).collect();
        Ipld::Map(Map::from([
            ("v".to_string(), Ipld::Integer(FORM_VERSION.into())),
            ("ops".to_string(), Ipld::List(ops)),
        ]))
    }

    pub fn from_ipld(value: &Ipld) -> Result<WriteBatch> {
        const WHAT: &str = "write batch";
        let map = form::map(value, &["v", "ops"], WHAT)?;
        if let Some(v) = map.get("v")
            && form::unsigned(v, WHAT)? != FORM_VERSION
        {
            return Err(form::malformed(WHAT, "unsupported version"));
        }
        let ops = form::list(form::required(map, "ops", WHAT)?, WHAT)?;
        if ops.len() > MAX_OPS {
            return Err(form::malformed(
                WHAT,
                format!("more than {MAX_OPS} operations"),
            ));
        }
        Ok(WriteBatch {
            ops: ops.iter().map(Op::from_ipld).collect::<Result<_>>()?,
        })
    }

    pub fn to_cbor(&self) -> Vec<u8> {
        form::to_cbor(&self.to_ipld())
    }

    /// Reads canonical bytes only (see `Query::from_cbor`).
    pub fn from_cbor(bytes: &[u8]) -> Result<WriteBatch> {
        let batch = WriteBatch::from_ipld(&form::from_cbor(bytes, "write batch")?)?;
        form::check_canonical(bytes, &batch.to_ipld(), "write batch")?;
        Ok(batch)
    }

    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<WriteBatch> {
        WriteBatch::from_ipld(&crate::json::parse_json(text)?)
    }

    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        crate::json::to_string(&self.to_ipld())
    }
}

impl Op {
    pub fn collection(&self) -> &str {
        match self {
            Op::CreateCollection { collection }
            | Op::DropCollection { collection }
            | Op::CreateIndex { collection, .. }
            | Op::DropIndex { collection, .. }
            | Op::Insert { collection, .. }
            | Op::Upsert { collection, .. }
            | Op::Update { collection, .. }
            | Op::Delete { collection, .. } => collection,
        }
    }

    pub fn to_ipld(&self) -> Ipld {
        let mut map = Map::new();
        let mut put = |k: &str, v: Ipld| {
            map.insert(k.to_string(), v);
        };
        put("collection", form::string_value(self.collection()));
        let name = match self {
            Op::CreateCollection { .. } => "create_collection",
            Op::DropCollection { .. } => "drop_collection",
            Op::CreateIndex { index, .. } => {
                put("index", index.to_ipld());
                "create_index"
            }
            Op::DropIndex { name, .. } => {
                put("name", form::string_value(name));
                "drop_index"
            }
            Op::Insert { doc, .. } => {
                put("doc", doc.clone());
                "insert"
            }
            Op::Upsert { doc, .. } => {
                put("doc", doc.clone());
                "upsert"
            }
            Op::Update { id, patch, .. } => {
                put("id", id.clone());
                match patch {
                    Patch::Replace(body) => put("replace", Ipld::Map(body.clone())),
                    Patch::Merge { set, unset } => {
                        if !set.is_empty() {
                            let set = set
                                .iter()
                                .map(|(p, v)| (p.to_string(), v.clone()))
                                .collect();
                            put("set", Ipld::Map(set));
                        }
                        if !unset.is_empty() {
                            let unset = unset
                                .iter()
                                .map(|p| form::string_value(p.as_str()))
                                .collect();
                            put("unset", Ipld::List(unset));
                        }
                    }
                }
                "update"
            }
            Op::Delete { id, .. } => {
                put("id", id.clone());
                "delete"
            }
        };
        put("op", form::string_value(name));
        Ipld::Map(map)
    }

    pub fn from_ipld(value: &Ipld) -> Result<Op> {
        const WHAT: &str = "write";
        let map = form::map(
            value,
            &[
                "op",
                "collection",
                "index",
                "name",
                "doc",
                "id",
                "replace",
                "set",
                "unset",
            ],
            WHAT,
        )?;
        let op = form::string(form::required(map, "op", WHAT)?, WHAT)?;
        let collection = form::string(form::required(map, "collection", WHAT)?, WHAT)?.to_string();
        let field = |k: &str| form::required(map, k, WHAT);
        let allowed = |fields: &[&str]| -> Result<()> {
            match map.keys().find(|k| {
                !["op", "collection"].contains(&k.as_str()) && !fields.contains(&k.as_str())
            }) {
                Some(k) => Err(form::malformed(WHAT, format!("{op} takes no field {k:?}"))),
                None => Ok(()),
            }
        };
        Ok(match op {
            "create_collection" => {
                allowed(&[])?;
                Op::CreateCollection { collection }
            }
            "drop_collection" => {
                allowed(&[])?;
                Op::DropCollection { collection }
            }
            "create_index" => {
                allowed(&["index"])?;
                Op::CreateIndex {
                    collection,
                    index: IndexDef::from_ipld(field("index")?)?,
                }
            }
            "drop_index" => {
                allowed(&["name"])?;
                Op::DropIndex {
                    collection,
                    name: form::string(field("name")?, WHAT)?.to_string(),
                }
            }
            "insert" | "upsert" => {
                allowed(&["doc"])?;
                let doc = field("doc")?.clone();
                if op == "insert" {
                    Op::Insert { collection, doc }
                } else {
                    Op::Upsert { collection, doc }
                }
            }
            "update" => {
                allowed(&["id", "replace", "set", "unset"])?;
                let id = field("id")?.clone();
                let patch = match map.get("replace") {
                    Some(body) => {
                        if map.contains_key("set") || map.contains_key("unset") {
                            return Err(form::malformed(WHAT, "replace excludes set and unset"));
                        }
                        let Ipld::Map(body) = body else {
                            return Err(form::malformed(WHAT, "replace is a map"));
                        };
                        Patch::Replace(body.clone())
                    }
                    None => {
                        let mut set = Vec::new();
                        if let Some(fields) = map.get("set") {
                            let Ipld::Map(fields) = fields else {
                                return Err(form::malformed(WHAT, "set is a map"));
                            };
                            for (path, value) in fields {
                                set.push((Path::parse(path)?, value.clone()));
                            }
                        }
                        let mut unset = Vec::new();
                        if let Some(paths) = map.get("unset") {
                            for path in form::list(paths, WHAT)? {
                                unset.push(Path::parse(form::string(path, WHAT)?)?);
                            }
                        }
                        Patch::Merge { set, unset }
                    }
                };
                Op::Update {
                    collection,
                    id,
                    patch,
                }
            }
            "delete" => {
                allowed(&["id"])?;
                Op::Delete {
                    collection,
                    id: field("id")?.clone(),
                }
            }
            other => return Err(form::malformed(WHAT, format!("unknown op {other:?}"))),
        })
    }
}
