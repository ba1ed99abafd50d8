//! The catalog: collections and their index definitions, stored in the tree under their own
//! prefix (see `keyspace`), so one root commits to schema and data together.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use crate::error::{Error, Refusal};
use crate::form::{self, Map};
use crate::key::Order;
use crate::path::Path;

/// At most this many fields in one index, and this many covered fields.
pub const MAX_INDEX_FIELDS: usize = 8;
pub const MAX_INCLUDED_FIELDS: usize = 16;
/// Names of collections and indexes: 1 to 64 bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// The name the planner gives the primary key order.
pub const PRIMARY: &str = "_id";

/// One field of a compound index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexField {
    pub path: Path,
    pub order: Order,
    /// Written `path[]`: a list value gives one entry per distinct element. Without it, a list in
    /// this field is refused, so that a scan over the index is exactly the documents' order.
    pub each: bool,
}

/// A secondary index: an ordered list of fields, optionally unique, optionally covering extra
/// fields so that queries reading only those need no document fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub fields: Vec<IndexField>,
    pub unique: bool,
    pub include: Vec<Path>,
}

/// A collection's catalog record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Collection {
    /// By name.
    pub indexes: BTreeMap<String, IndexDef>,
}

pub fn check_name(name: &str) -> Result<(), Refusal> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.contains('\0') {
        return Err(Refusal::BadCollectionName(name.to_string()));
    }
    Ok(())
}

impl IndexField {
    /// Parses `"path"` or `"path[]"`.
    pub fn parse(text: &str, order: Order) -> Result<IndexField, Error> {
        let (path, each) = match text.strip_suffix("[]") {
            Some(path) => (path, true),
            None => (text, false),
        };
        Ok(IndexField {
            path: Path::parse(path)?,
            order,
            each,
        })
    }

    /// The field as written in index definitions: `path` or `path[]`.
    pub fn spelling(&self) -> String {
        if self.each {
            format!("{}[]", self.path)
        } else {
            self.path.to_string()
        }
    }
}

pub fn order_name(order: Order) -> &'static str {
    match order {
        Order::Ascending => "asc",
        Order::Descending => "desc",
    }
}

pub fn parse_order(value: &Ipld, what: &'static str) -> Result<Order, Error> {
    match value {
        Ipld::String(s) if s == "asc" => Ok(Order::Ascending),
        Ipld::String(s) if s == "desc" => Ok(Order::Descending),
        Ipld::Integer(1) => Ok(Order::Ascending),
        Ipld::Integer(-1) => Ok(Order::Descending),
        _ => Err(form::malformed(what, "order is \"asc\" or \"desc\"")),
    }
}

impl IndexDef {
    /// Checks the definition's own shape: name, field count, paths, no repeats, no `_id`.
    pub fn validate(&self) -> Result<(), Refusal> {
        let bad = |why: String| Err(Refusal::BadIndex(format!("{:?}: {why}", self.name)));
        if self.name.is_empty() || self.name.len() > MAX_NAME_BYTES || self.name.contains('\0') {
            return bad("name must be 1 to 64 bytes, no NUL".into());
        }
        if self.name == PRIMARY {
            return bad("the name _id is the primary key's".into());
        }
        if self.fields.is_empty() || self.fields.len() > MAX_INDEX_FIELDS {
            return bad(format!("1 to {MAX_INDEX_FIELDS} fields"));
        }
        if self.include.len() > MAX_INCLUDED_FIELDS {
            return bad(format!("at most {MAX_INCLUDED_FIELDS} included fields"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for path in self.fields.iter().map(|f| &f.path).chain(&self.include) {
            if path.is_id() {
                return bad("_id is always part of every index".into());
            }
            if !seen.insert(path) {
                return bad(format!("field {path} appears twice"));
            }
        }
        Ok(())
    }

    pub fn to_ipld(&self) -> Ipld {
        let fields = self
            .fields
            .iter()
            .map(|f| {
                Ipld::List(vec![
                    Ipld::String(f.spelling()),
                    form::string_value(order_name(f.order)),
                ])
            })
            .collect();
        let mut map = Map::new();
        map.insert("name".into(), form::string_value(&self.name));
        map.insert("fields".into(), Ipld::List(fields));
        if self.unique {
            map.insert("unique".into(), Ipld::Bool(true));
        }
        if !self.include.is_empty() {
            let include = self
                .include
                .iter()
                .map(|p| form::string_value(p.as_str()))
                .collect();
            map.insert("include".into(), Ipld::List(include));
        }
        Ipld::Map(map)
    }

    /// Reads a definition. Fields are `"path"`, `"path[]"`, or `["path", "asc" | "desc"]`.
    pub fn from_ipld(value: &Ipld) -> Result<IndexDef, Error> {
        const WHAT: &str = "index definition";
        let map = form::map(value, &["name", "fields", "unique", "include"], WHAT)?;
        let name = form::string(form::required(map, "name", WHAT)?, WHAT)?.to_string();
        let mut fields = Vec::new();
        for field in form::list(form::required(map, "fields", WHAT)?, WHAT)? {
            fields.push(match field {
                Ipld::String(text) => IndexField::parse(text, Order::Ascending)?,
                Ipld::List(pair) if pair.len() == 2 => {
                    IndexField::parse(form::string(&pair[0], WHAT)?, parse_order(&pair[1], WHAT)?)?
                }
                _ => {
                    return Err(form::malformed(
                        WHAT,
                        "a field is \"path\" or [path, order]",
                    ));
                }
            });
        }
        let unique = match map.get("unique") {
            Some(v) => form::boolean(v, WHAT)?,
            None => false,
        };
        let mut include = Vec::new();
        if let Some(list) = map.get("include") {
            for path in form::list(list, WHAT)? {
                include.push(Path::parse(form::string(path, WHAT)?)?);
            }
        }
        Ok(IndexDef {
            name,
            fields,
            unique,
            include,
        })
    }
}

impl Collection {
    pub fn to_ipld(&self) -> Ipld {
        let indexes = self.indexes.values().map(IndexDef::to_ipld).collect();
        Ipld::Map(Map::from([("indexes".to_string(), Ipld::List(indexes))]))
    }

    pub fn from_ipld(value: &Ipld) -> Result<Collection, Error> {
        let map = form::map(value, &["indexes"], "collection record")?;
        let mut indexes = BTreeMap::new();
        if let Some(list) = map.get("indexes") {
            for def in form::list(list, "collection record")? {
                let def = IndexDef::from_ipld(def)?;
                indexes.insert(def.name.clone(), def);
            }
        }
        Ok(Collection { indexes })
    }
}

/// The largest catalog block a write may leave: every query and write reads it whole, and an FVM
/// block holds at most 1 MiB. About a thousand collections with a few indexes each.
pub const MAX_CATALOG_BYTES: usize = 256 << 10;

/// The catalog block: the database's header and every collection's record, linked from the tree's
/// root object (`meta`), so that a query or a write gets its schema from one block beside the root
/// rather than from a path into the tree. A pure function of the collections: history independence
/// holds for the root object as for the tree.
///
/// `{"collections": {name: record, …}, "format": "prollydb", "version": 2}`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    pub collections: BTreeMap<String, Collection>,
}

impl Catalog {
    pub fn to_block(&self) -> Vec<u8> {
        let collections = self
            .collections
            .iter()
            .map(|(name, c)| (name.clone(), c.to_ipld()))
            .collect();
        let block = Ipld::Map(Map::from([
            ("collections".to_string(), Ipld::Map(collections)),
            ("format".to_string(), Ipld::String("prollydb".into())),
            (
                "version".to_string(),
                Ipld::Integer(crate::DB_FORMAT_VERSION.into()),
            ),
        ]));
        form::encode(&block).as_bytes().to_vec()
    }

    /// Reads a catalog block. Anything but a prollydb catalog of this version is not a database
    /// this code reads.
    pub fn from_block(bytes: &[u8]) -> Result<Catalog, Error> {
        let value = prolly_tree::decode_ipld(bytes).map_err(|e| {
            Error::NotADatabase(format!("a catalog block that is not DAG-CBOR ({e})"))
        })?;
        let header = |m: &Map| {
            let format = m.get("format");
            let version = m.get("version");
            (format == Some(&Ipld::String("prollydb".into()))
                && version == Some(&Ipld::Integer(crate::DB_FORMAT_VERSION.into())))
            .then_some(())
            .ok_or_else(|| {
                let show = |v: Option<&Ipld>| v.map(crate::error::show).unwrap_or("absent".into());
                Error::NotADatabase(format!(
                    "format {}, version {}",
                    show(format),
                    show(version)
                ))
            })
        };
        let Ipld::Map(map) = &value else {
            return Err(Error::NotADatabase(
                "a catalog block that is not a map".into(),
            ));
        };
        header(map)?;
        let map = form::map(&value, &["collections", "format", "version"], "catalog")?;
        let mut collections = BTreeMap::new();
        if let Some(Ipld::Map(records)) = map.get("collections") {
            for (name, record) in records {
                check_name(name).map_err(|e| Error::corrupt("catalog", e))?;
                collections.insert(name.clone(), Collection::from_ipld(record)?);
            }
        } else {
            return Err(Error::corrupt("catalog", "no collections map"));
        }
        Ok(Catalog { collections })
    }

    /// The catalog of the database at `tree`'s root: the block its root object links.
    pub fn load<S: fvm_ipld_blockstore::Blockstore>(
        tree: &prolly_tree::Tree<S>,
    ) -> Result<prolly_tree::Outcome<Catalog>, Error> {
        let Some(cid) = tree.meta() else {
            return Err(Error::NotADatabase("a tree without a catalog block".into()));
        };
        let bytes = prolly_tree::ready!(prolly_tree::load_block(tree.store(), &cid));
        Ok(prolly_tree::Outcome::Complete(Catalog::from_block(&bytes)?))
    }
}
