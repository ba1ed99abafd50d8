//! `Query`: what to read. Its IPLD form is the MongoDB-style shape below; the JSON form is that
//! shape in DAG-JSON, and the canonical form is its DAG-CBOR encoding with `"v": 1`.
//!
//! ```json
//! {"v": 1, "collection": "flights",
//!  "filter": {"carrier": "UA", "dep_delay": {"$gt": 60}},
//!  "sort": [["dep_time", "asc"]], "limit": 32, "skip": 0, "cursor": "…",
//!  "count": false, "projection": ["dep_time", "dest"], "budget": 10000, "require_index": false}
//! ```

use ipld_core::ipld::Ipld;

use crate::catalog::{order_name, parse_order};
use crate::error::{Error, Refusal};
use crate::filter::Filter;
use crate::form::{self, FORM_VERSION, Map};
use crate::key::Order;
use crate::path::Path;

/// Results per page when the query gives no limit, and the most it may ask for.
pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;
/// Entries a query may examine (index entries and documents) when it gives no budget, and the
/// most it may ask for.
pub const DEFAULT_BUDGET: u64 = 10_000;
pub const MAX_BUDGET: u64 = 1_000_000;
/// Most sort fields and projected paths.
pub const MAX_SORT_FIELDS: usize = 8;
pub const MAX_PROJECTION: usize = 32;
/// Largest accepted page cursor.
pub const MAX_CURSOR_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct SortField {
    pub path: Path,
    pub order: Order,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub collection: String,
    pub filter: Filter,
    /// Ties are always broken by `_id`, ascending.
    pub sort: Vec<SortField>,
    pub limit: Option<u64>,
    pub skip: u64,
    /// Where the previous page stopped.
    pub cursor: Option<Vec<u8>>,
    /// Return the number of matches instead of documents.
    pub count: bool,
    /// Return only these paths (and `_id`).
    pub projection: Option<Vec<Path>>,
    pub budget: Option<u64>,
    /// Refuse a full scan or an in-memory sort instead of running it.
    pub require_index: bool,
}

impl Query {
    pub fn new(collection: impl Into<String>) -> Query {
        Query {
            collection: collection.into(),
            filter: Filter::default(),
            sort: Vec::new(),
            limit: None,
            skip: 0,
            cursor: None,
            count: false,
            projection: None,
            budget: None,
            require_index: false,
        }
    }

    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    pub fn sort(mut self, path: &str, order: Order) -> Result<Self, Error> {
        self.sort.push(SortField {
            path: Path::parse(path)?,
            order,
        });
        Ok(self)
    }

    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn effective_limit(&self) -> u64 {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    pub fn effective_budget(&self) -> u64 {
        self.budget.unwrap_or(DEFAULT_BUDGET)
    }

    /// Checks the limits on the query's own shape.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(form::malformed("query", reason));
        if self.limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
            return bad(format!("limit must be 1 to {MAX_LIMIT}"));
        }
        if self.budget.is_some_and(|b| b == 0 || b > MAX_BUDGET) {
            return bad(format!("budget must be 1 to {MAX_BUDGET}"));
        }
        if self
            .cursor
            .as_ref()
            .is_some_and(|c| c.len() > MAX_CURSOR_BYTES)
        {
            return Err(Refusal::BadCursor("too large".into()).into());
        }
        if self.sort.len() > MAX_SORT_FIELDS {
            return bad(format!("more than {MAX_SORT_FIELDS} sort fields"));
        }
        if self
            .projection
            .as_ref()
            .is_some_and(|p| p.len() > MAX_PROJECTION)
        {
            return bad(format!("more than {MAX_PROJECTION} projected paths"));
        }
        Ok(())
    }

    /// The canonical IPLD form: defaults are left out.
    pub fn to_ipld(&self) -> Ipld {
        let mut map = Map::new();
        map.insert("v".into(), Ipld::Integer(FORM_VERSION.into()));
        map.insert("collection".into(), form::string_value(&self.collection));
        if self.filter != Filter::default() {
            map.insert("filter".into(), self.filter.to_ipld());
        }
        if !self.sort.is_empty() {
            let sort = self
                .sort
                .iter()
                .map(|s| {
                    Ipld::List(vec![
                        form::string_value(s.path.as_str()),
                        form::string_value(order_name(s.order)),
                    ])
                })
                .collect();
            map.insert("sort".into(), Ipld::List(sort));
        }
        if let Some(limit) = self.limit {
            map.insert("limit".into(), Ipld::Integer(limit.into()));
        }
        if self.skip > 0 {
            map.insert("skip".into(), Ipld::Integer(self.skip.into()));
        }
        if let Some(cursor) = &self.cursor {
            map.insert("cursor".into(), Ipld::Bytes(cursor.clone()));
        }
        if self.count {
            map.insert("count".into(), Ipld::Bool(true));
        }
        if let Some(paths) = &self.projection {
            let paths = paths
                .iter()
                .map(|p| form::string_value(p.as_str()))
                .collect();
            map.insert("projection".into(), Ipld::List(paths));
        }
        if let Some(budget) = self.budget {
            map.insert("budget".into(), Ipld::Integer(budget.into()));
        }
        if self.require_index {
            map.insert("require_index".into(), Ipld::Bool(true));
        }
        Ipld::Map(map)
    }

    /// Reads the IPLD form. Lenient where JSON users need it: `v` may be left out, a sort field
    /// may be a bare path (ascending) and a cursor may be a base64url string.
    pub fn from_ipld(value: &Ipld) -> Result<Query, Error> {
        const WHAT: &str = "query";
        form::check_integers(value, WHAT)?;
        let map = form::map(
            value,
            &[
                "v",
                "collection",
                "filter",
                "sort",
                "limit",
                "skip",
                "cursor",
                "count",
                "projection",
                "budget",
                "require_index",
            ],
            WHAT,
        )?;
        if let Some(v) = map.get("v")
            && form::unsigned(v, WHAT)? != FORM_VERSION
        {
            return Err(form::malformed(WHAT, format!("unsupported version {v:?}")));
        }
        let mut query = Query::new(form::string(
            form::required(map, "collection", WHAT)?,
            WHAT,
        )?);
        if let Some(filter) = map.get("filter") {
            query.filter = Filter::from_ipld(filter)?;
        }
        if let Some(sort) = map.get("sort") {
            for field in form::list(sort, WHAT)? {
                query.sort.push(match field {
                    Ipld::String(path) => SortField {
                        path: Path::parse(path)?,
                        order: Order::Ascending,
                    },
                    Ipld::List(pair) if pair.len() == 2 => SortField {
                        path: Path::parse(form::string(&pair[0], WHAT)?)?,
                        order: parse_order(&pair[1], WHAT)?,
                    },
                    _ => {
                        return Err(form::malformed(
                            WHAT,
                            "a sort field is path or [path, order]",
                        ));
                    }
                });
            }
        }
        if let Some(limit) = map.get("limit") {
            query.limit = Some(form::unsigned(limit, WHAT)?);
        }
        if let Some(skip) = map.get("skip") {
            query.skip = form::unsigned(skip, WHAT)?;
        }
        if let Some(cursor) = map.get("cursor") {
            query.cursor = Some(form::cursor(cursor, WHAT)?);
        }
        if let Some(count) = map.get("count") {
            query.count = form::boolean(count, WHAT)?;
        }
        if let Some(paths) = map.get("projection") {
            let paths = form::list(paths, WHAT)?
                .iter()
                .map(|p| Path::parse(form::string(p, WHAT)?))
                .collect::<Result<Vec<_>, _>>()?;
            query.projection = Some(paths);
        }
        if let Some(budget) = map.get("budget") {
            query.budget = Some(form::unsigned(budget, WHAT)?);
        }
        if let Some(flag) = map.get("require_index") {
            query.require_index = form::boolean(flag, WHAT)?;
        }
        query.validate()?;
        Ok(query)
    }

    /// The canonical DAG-CBOR bytes: what the actor takes as params and a proof carries.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.write_form(&mut out, true);
        debug_assert_eq!(out, crate::form::to_cbor(&self.to_ipld()));
        out
    }

    /// Writes the canonical form ([`Query::to_ipld`] encoded) at the end of `out`, field by field
    /// in DAG-CBOR's key order (by length, then bytewise); without `limit`, `skip` and `cursor`
    /// unless `page_controls` (what a page cursor's query hash covers). Building the IPLD map to
    /// encode it was 3% of verifying a covering query, and a page's cursor encodes it again.
    pub(crate) fn write_form(&self, out: &mut Vec<u8>, page_controls: bool) {
        use prolly_tree::cbor::{
            MAJOR_ARRAY, MAJOR_MAP, MAJOR_SIMPLE, MAJOR_UINT, write_bytes, write_head, write_text,
        };
        /// CBOR's `true`: simple value 21.
        const TRUE: u64 = 21;
        let has_filter = self.filter != Filter::default();
        let limit = self.limit.filter(|_| page_controls);
        let skip = Some(self.skip).filter(|&s| page_controls && s > 0);
        let cursor = self.cursor.as_deref().filter(|_| page_controls);
        let fields = 2
            + usize::from(skip.is_some())
            + usize::from(!self.sort.is_empty())
            + usize::from(self.count)
            + usize::from(limit.is_some())
            + usize::from(self.budget.is_some())
            + usize::from(cursor.is_some())
            + usize::from(has_filter)
            + usize::from(self.projection.is_some())
            + usize::from(self.require_index);
        write_head(out, MAJOR_MAP, fields as u64);
        write_text(out, "v");
        write_head(out, MAJOR_UINT, FORM_VERSION);
        if let Some(skip) = skip {
            write_text(out, "skip");
            write_head(out, MAJOR_UINT, skip);
        }
        if !self.sort.is_empty() {
            write_text(out, "sort");
            write_head(out, MAJOR_ARRAY, self.sort.len() as u64);
            for field in &self.sort {
                write_head(out, MAJOR_ARRAY, 2);
                write_text(out, field.path.as_str());
                write_text(out, order_name(field.order));
            }
        }
        if self.count {
            write_text(out, "count");
            write_head(out, MAJOR_SIMPLE, TRUE);
        }
        if let Some(limit) = limit {
            write_text(out, "limit");
            write_head(out, MAJOR_UINT, limit);
        }
        if let Some(budget) = self.budget {
            write_text(out, "budget");
            write_head(out, MAJOR_UINT, budget);
        }
        if let Some(cursor) = cursor {
            write_text(out, "cursor");
            write_bytes(out, cursor);
        }
        if has_filter {
            write_text(out, "filter");
            self.filter.write_form(out);
        }
        write_text(out, "collection");
        write_text(out, &self.collection);
        if let Some(paths) = &self.projection {
            write_text(out, "projection");
            write_head(out, MAJOR_ARRAY, paths.len() as u64);
            for path in paths {
                write_text(out, path.as_str());
            }
        }
        if self.require_index {
            write_text(out, "require_index");
            write_head(out, MAJOR_SIMPLE, TRUE);
        }
    }

    /// Reads canonical bytes; anything else (other field order, defaults spelled out, a missing
    /// version) is refused, so that one query has exactly one encoding.
    pub fn from_cbor(bytes: &[u8]) -> Result<Query, Error> {
        let query = Query::from_ipld(&crate::form::from_cbor(bytes, "query")?)?;
        // Its canonical form written field by field (`to_cbor`), not built as IPLD and encoded:
        // the actor parses every query so.
        if query.to_cbor() != bytes {
            return Err(crate::form::malformed("query", "not the canonical form"));
        }
        Ok(query)
    }

    /// Parses the JSON form.
    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<Query, Error> {
        Query::from_ipld(&crate::json::parse_json(text)?)
    }

    /// The JSON form, with the cursor as a base64url string.
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        crate::json::with_cursor(self.to_ipld(), self.cursor.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use proptest::prelude::*;

    /// Every field a query can set, the page controls included.
    fn any_query() -> impl Strategy<Value = Query> {
        (
            testing::query(),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
            any::<bool>(),
            prop::option::of(1u64..=MAX_BUDGET),
            any::<bool>(),
            prop::option::of(prop::sample::select(vec!["c", "a much longer name", ""])),
        )
            .prop_map(|(mut query, cursor, count, budget, require_index, name)| {
                query.cursor = cursor;
                query.count = count;
                query.budget = budget;
                query.require_index = require_index;
                if let Some(name) = name {
                    query.collection = name.to_string();
                }
                query
            })
    }

    proptest! {
        /// The form written field by field is the IPLD form encoded, with the page controls and
        /// without them (a cursor's query hash covers the second).
        #[test]
        fn the_written_form_is_the_ipld_form_encoded(query in any_query()) {
            let mut written = Vec::new();
            query.write_form(&mut written, true);
            prop_assert_eq!(&written, &form::to_cbor(&query.to_ipld()));

            let mut form = query.to_ipld();
            if let Ipld::Map(map) = &mut form {
                for control in ["cursor", "limit", "skip"] {
                    map.remove(control);
                }
            }
            let mut written = Vec::new();
            query.write_form(&mut written, false);
            prop_assert_eq!(written, form::to_cbor(&form));
        }
    }
}
