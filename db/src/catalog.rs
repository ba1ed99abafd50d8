//! The catalog: collections and their index definitions, stored in the tree under their own
//! prefix (see `keyspace`), so one root commits to schema and data together.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use prolly_tree::RawValue;

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
        let value = prolly_tree::decode_ipld(bytes).map_err(not_dag_cbor)?;
        let Ipld::Map(map) = &value else {
            return Err(not_a_map());
        };
        check_header(map.get("format"), map.get("version"))?;
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

    /// One collection's record (`None` if there is none), read from a catalog block without
    /// decoding the others: what a query reads (decoding every record would cost each query in
    /// proportion to the collections it does not read). The block is checked as
    /// [`Catalog::from_block`] checks it, but for the other records' contents.
    pub fn collection_from_block(bytes: Vec<u8>, name: &str) -> Result<Option<Collection>, Error> {
        let block = RawValue::from_bytes(bytes.into()).map_err(|e| match e {
            // The decoder's own error, as `from_block` says it.
            prolly_tree::Error::Invalid(prolly_tree::InvalidInput::Value(e)) => not_dag_cbor(e),
            e => not_dag_cbor(e),
        })?;
        let fields = block.map_entries().ok_or_else(not_a_map)?;
        let (mut format, mut version, mut unknown) = (None, None, None);
        for (key, value) in fields {
            match key {
                "format" => format = Some(value),
                "version" => version = Some(value),
                "collections" => {}
                other => unknown = unknown.or(Some(other)),
            }
        }
        check_header_bytes(format, version)?;
        if let Some(unknown) = unknown {
            return Err(form::malformed(
                "catalog",
                format!("unknown field {unknown:?}"),
            ));
        }
        // Read in place: `map_get` shares the block's buffer.
        let records = block.map_get("collections");
        let Some(records) = records.filter(|r| r.map_entries().is_some()) else {
            return Err(Error::corrupt("catalog", "no collections map"));
        };
        match records.map_get(name) {
            None => Ok(None),
            Some(record) => Ok(Some(Collection::from_ipld(&record.to_ipld()?)?)),
        }
    }

    /// Collection `name`'s record at `tree`'s root ([`Catalog::collection_from_block`]).
    pub fn load_collection<S: fvm_ipld_blockstore::Blockstore>(
        tree: &prolly_tree::Tree<S>,
        name: &str,
    ) -> Result<prolly_tree::Outcome<Option<Collection>>, Error> {
        let bytes = prolly_tree::ready!(Self::load_block(tree));
        Ok(prolly_tree::Outcome::Complete(Self::collection_from_block(
            bytes, name,
        )?))
    }

    fn load_block<S: fvm_ipld_blockstore::Blockstore>(
        tree: &prolly_tree::Tree<S>,
    ) -> Result<prolly_tree::Outcome<Vec<u8>>, Error> {
        let Some(cid) = tree.meta() else {
            return Err(Error::NotADatabase("a tree without a catalog block".into()));
        };
        Ok(prolly_tree::load_block(tree.store(), &cid)?)
    }

    /// The catalog of the database at `tree`'s root: the block its root object links.
    pub fn load<S: fvm_ipld_blockstore::Blockstore>(
        tree: &prolly_tree::Tree<S>,
    ) -> Result<prolly_tree::Outcome<Catalog>, Error> {
        let bytes = prolly_tree::ready!(Self::load_block(tree));
        Ok(prolly_tree::Outcome::Complete(Catalog::from_block(&bytes)?))
    }
}

fn not_dag_cbor(e: impl std::fmt::Display) -> Error {
    Error::NotADatabase(format!("a catalog block that is not DAG-CBOR ({e})"))
}

fn not_a_map() -> Error {
    Error::NotADatabase("a catalog block that is not a map".into())
}

/// [`check_header`] on the header's encoded values, compared as bytes (a value has one
/// encoding): they are decoded only to say what they are instead.
fn check_header_bytes(format: Option<&[u8]>, version: Option<&[u8]>) -> Result<(), Error> {
    const FORMAT: &[u8] = b"\x68prollydb";
    const { assert!(crate::DB_FORMAT_VERSION < 24, "a one-byte CBOR integer") };
    if format == Some(FORMAT) && version == Some(&[crate::DB_FORMAT_VERSION as u8]) {
        return Ok(());
    }
    let decode = |value: Option<&[u8]>| {
        value
            .map(prolly_tree::decode_ipld)
            .transpose()
            .map_err(not_dag_cbor)
    };
    check_header(decode(format)?.as_ref(), decode(version)?.as_ref())
}

/// Anything but a prollydb catalog of this version is not a database this code reads.
fn check_header(format: Option<&Ipld>, version: Option<&Ipld>) -> Result<(), Error> {
    if format == Some(&Ipld::String("prollydb".into()))
        && version == Some(&Ipld::Integer(crate::DB_FORMAT_VERSION.into()))
    {
        return Ok(());
    }
    let show = |v: Option<&Ipld>| v.map(crate::error::show).unwrap_or("absent".into());
    Err(Error::NotADatabase(format!(
        "format {}, version {}",
        show(format),
        show(version)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::index_def;
    use proptest::prelude::*;

    /// What reading `name` from a whole catalog block gives: its record, `None`, or the error.
    fn whole(bytes: &[u8], name: &str) -> Result<Option<Collection>, String> {
        Catalog::from_block(bytes)
            .map(|mut c| c.collections.remove(name))
            .map_err(|e| e.to_string())
    }

    fn one(bytes: &[u8], name: &str) -> Result<Option<Collection>, String> {
        Catalog::collection_from_block(bytes.to_vec(), name).map_err(|e| e.to_string())
    }

    fn block(fields: &[(&str, Ipld)]) -> Vec<u8> {
        let map = fields.iter().map(|(k, v)| (k.to_string(), v.clone()));
        form::to_cbor(&Ipld::Map(map.collect()))
    }

    proptest! {
        /// One record read alone is the record the whole catalog holds, for every name.
        #[test]
        fn a_record_read_alone_is_the_catalogs(
            i in index_def("i"),
            j in index_def("j"),
        ) {
            let mut catalog = Catalog::default();
            let two = Collection { indexes: BTreeMap::from([("i".into(), i), ("j".into(), j)]) };
            catalog.collections.insert("flights".into(), two);
            catalog.collections.insert("c".into(), Collection::default());
            let bytes = catalog.to_block();
            for name in ["flights", "c", "absent", ""] {
                prop_assert_eq!(one(&bytes, name), whole(&bytes, name));
            }
        }
    }

    /// A block that is not a catalog of this version is refused alone as whole, and says the same.
    #[test]
    fn a_record_is_refused_where_the_catalog_is() {
        let header = || {
            vec![
                ("format", Ipld::String("prollydb".into())),
                ("version", Ipld::Integer(crate::DB_FORMAT_VERSION.into())),
            ]
        };
        let with = |extra: Vec<(&'static str, Ipld)>| {
            let mut fields = header();
            fields.extend(extra);
            block(&fields)
        };
        let records = || Ipld::Map(Map::from([("c".into(), Collection::default().to_ipld())]));
        let bad = [
            vec![0xff],
            form::to_cbor(&Ipld::List(vec![])),
            block(&[("collections", records())]),
            block(&[
                ("collections", records()),
                ("format", Ipld::String("prollydb".into())),
                ("version", Ipld::Integer(1)),
            ]),
            with(vec![]),
            with(vec![("collections", Ipld::List(vec![]))]),
            with(vec![("collections", records()), ("extra", Ipld::Null)]),
        ];
        for bytes in bad {
            let whole = whole(&bytes, "c");
            assert!(whole.is_err(), "{bytes:?} is a catalog");
            assert_eq!(one(&bytes, "c"), whole, "{bytes:?}");
        }
    }
}
