//! Test support, behind the `testing` feature: proptest generators for documents, indexes and
//! queries, a naive evaluator written separately from the planner and executor, and a full-scan
//! check that the indexes are exactly the documents' projections. `prolly_proofs` reuses them.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::Direction;
use proptest::prelude::*;

use crate::catalog::{IndexDef, IndexField};
use crate::document::{self, Document};
use crate::filter::{Cond, Filter};
use crate::key::{self, Order};
use crate::keyspace::{self, prefix_end};
use crate::path::Path;
use crate::query::{Query, SortField};
use crate::{Database, index};

/// Scalar values from a small domain, so that equal values and numeric twins (1 and 1.0) meet.
pub fn scalar() -> impl Strategy<Value = Ipld> + Clone {
    prop_oneof![
        Just(Ipld::Null),
        any::<bool>().prop_map(Ipld::Bool),
        (-3i128..4).prop_map(Ipld::Integer),
        prop::sample::select(vec![-1.5, -0.0, 0.0, 1.0, 2.0, 2.5]).prop_map(Ipld::Float),
        prop::sample::select(vec!["", "a", "ab", "abc", "b", "a\0b"])
            .prop_map(|s| Ipld::String(s.into())),
        prop::sample::select(vec![vec![], vec![0u8], vec![1, 2]]).prop_map(Ipld::Bytes),
    ]
}

/// A field value: mostly scalars, sometimes a small map.
pub fn field_value() -> impl Strategy<Value = Ipld> {
    prop_oneof![
        6 => scalar(),
        1 => prop::collection::btree_map(prop::sample::select(vec!["x", "y"]), scalar(), 0..2)
            .prop_map(|m| Ipld::Map(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
    ]
}

/// Paths the generated documents use. `tags` always holds a list (or is absent); `n.x` is nested.
pub const PATHS: [&str; 5] = ["a", "b", "c", "n.x", "tags"];

/// A document with an integer `_id` from a small range (so writes collide).
pub fn document() -> impl Strategy<Value = Ipld> {
    (
        0i128..40,
        prop::option::of(field_value()),
        prop::option::of(field_value()),
        prop::option::of(scalar()),
        prop::option::of(scalar()),
        prop::option::of(prop::collection::vec(scalar(), 0..4)),
    )
        .prop_map(|(id, a, b, c, nx, tags)| {
            let mut map = BTreeMap::new();
            map.insert("_id".to_string(), Ipld::Integer(id));
            for (name, value) in [("a", a), ("b", b), ("c", c)] {
                if let Some(v) = value {
                    map.insert(name.to_string(), v);
                }
            }
            if let Some(x) = nx {
                map.insert(
                    "n".into(),
                    Ipld::Map(BTreeMap::from([("x".to_string(), x)])),
                );
            }
            if let Some(tags) = tags {
                map.insert("tags".into(), Ipld::List(tags));
            }
            Ipld::Map(map)
        })
}

fn order() -> impl Strategy<Value = Order> {
    prop_oneof![Just(Order::Ascending), Just(Order::Descending)]
}

/// A secondary index over the generated paths (`tags` only as `tags[]`).
pub fn index_def(name: &'static str) -> impl Strategy<Value = IndexDef> {
    (
        prop::sample::subsequence(PATHS.to_vec(), 1..4).prop_shuffle(),
        prop::collection::vec(order(), 4),
        prop::sample::subsequence(vec!["a", "b", "c"], 0..2),
    )
        .prop_map(move |(paths, orders, include)| {
            let fields: Vec<IndexField> = paths
                .iter()
                .zip(orders)
                .map(|(p, order)| IndexField {
                    path: Path::parse(p).expect("valid"),
                    order,
                    each: *p == "tags",
                })
                .collect();
            let include = include
                .into_iter()
                .filter(|p| !paths.contains(p))
                .map(|p| Path::parse(p).expect("valid"))
                .collect();
            IndexDef {
                name: name.to_string(),
                fields,
                unique: false,
                include,
            }
        })
}

fn field_cond() -> impl Strategy<Value = Filter> + Clone {
    let path = prop::sample::select(vec![
        "a", "a", "b", "c", "c", "n.x", "n.x", "tags", "tags", "_id",
    ])
    .prop_map(|p| Path::parse(p).expect("valid"));
    let operand = prop_oneof![4 => scalar(), 1 => (0i128..40).prop_map(Ipld::Integer)];
    let cond = prop_oneof![
        5 => operand.clone().prop_map(Cond::Eq),
        1 => operand.clone().prop_map(Cond::Ne),
        2 => operand.clone().prop_map(Cond::Gt),
        1 => operand.clone().prop_map(Cond::Gte),
        2 => operand.clone().prop_map(Cond::Lt),
        1 => operand.clone().prop_map(Cond::Lte),
        3 => prop::collection::vec(operand.clone(), 0..4).prop_map(Cond::In),
        1 => prop::collection::vec(operand, 0..3).prop_map(Cond::Nin),
        1 => any::<bool>().prop_map(Cond::Exists),
        1 => prop::sample::select(vec!["", "a", "ab"]).prop_map(|p| Cond::Prefix(p.into())),
    ];
    (path, cond).prop_map(|(p, c)| Filter::Field(p, c))
}

pub fn filter() -> impl Strategy<Value = Filter> {
    let leaf = field_cond();
    prop_oneof![
        3 => prop::collection::vec(leaf.clone(), 0..3).prop_map(Filter::And),
        2 => leaf.clone(),
        1 => (prop::collection::vec(leaf.clone(), 1..3), leaf)
            .prop_map(|(or, f)| Filter::And(vec![Filter::Or(or), f])),
    ]
}

/// A query over collection `c`.
pub fn query() -> impl Strategy<Value = Query> {
    let sort_field = (
        prop::sample::select(vec!["a", "b", "c", "n.x", "_id"]),
        order(),
    )
        .prop_map(|(p, order)| SortField {
            path: Path::parse(p).expect("valid"),
            order,
        });
    (
        filter(),
        prop_oneof![Just(Vec::new()), prop::collection::vec(sort_field, 1..3)],
        prop::option::of(1u64..8),
        prop_oneof![3 => Just(0u64), 1 => 1u64..4],
        prop::option::of(prop::sample::subsequence(vec!["a", "b", "n.x"], 1..3)),
    )
        .prop_map(|(filter, sort, limit, skip, projection)| {
            let mut query = Query::new("c").filter(filter);
            query.sort = sort;
            query.limit = limit;
            query.skip = skip;
            query.projection = projection.map(|ps| {
                ps.into_iter()
                    .map(|p| Path::parse(p).expect("valid"))
                    .collect()
            });
            query
        })
}

// ---------------------------------------------------------------------------------------------
// The naive evaluator: scan everything, filter, sort, skip, limit. Written from the documented
// semantics, sharing nothing with `filter` or `exec` but the value order (`key::compare`).

/// Numeric equality by value, written out case by case.
fn naive_equal(a: &Ipld, b: &Ipld) -> bool {
    match (a, b) {
        (Ipld::Integer(x), Ipld::Integer(y)) => x == y,
        (Ipld::Float(x), Ipld::Float(y)) => x == y,
        (Ipld::Integer(i), Ipld::Float(f)) | (Ipld::Float(f), Ipld::Integer(i)) => {
            f.fract() == 0.0 && f.abs() < 1e20 && (*f as i128) == *i
        }
        (Ipld::List(x), Ipld::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| naive_equal(a, b))
        }
        (Ipld::Map(x), Ipld::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && naive_equal(va, vb))
        }
        _ => a == b,
    }
}

fn class(v: &Ipld) -> u8 {
    match v {
        Ipld::Null => 0,
        Ipld::Bool(_) => 1,
        Ipld::Integer(_) | Ipld::Float(_) => 2,
        Ipld::String(_) => 3,
        Ipld::Bytes(_) => 4,
        Ipld::List(_) => 5,
        Ipld::Map(_) => 6,
        Ipld::Link(_) => 7,
    }
}

/// Order for range operators: the value order, with numerically equal numbers equal.
fn naive_cmp(a: &Ipld, b: &Ipld) -> Ordering {
    if class(a) == 2 && class(b) == 2 && naive_equal(a, b) {
        Ordering::Equal
    } else {
        key::compare(a, b)
    }
}

fn lookup<'d>(doc: &'d Ipld, path: &Path) -> Option<&'d Ipld> {
    path.as_str().split('.').try_fold(doc, |at, seg| match at {
        Ipld::Map(m) => m.get(seg),
        _ => None,
    })
}

fn naive_cond(value: Option<&Ipld>, cond: &Cond) -> bool {
    let Some(value) = value else {
        return matches!(cond, Cond::Ne(_) | Cond::Nin(_) | Cond::Exists(false));
    };
    let mut candidates = vec![value];
    if let Ipld::List(items) = value {
        candidates.extend(items);
    }
    let any = |f: &dyn Fn(&Ipld) -> bool| candidates.iter().any(|c| f(c));
    let ranged = |x: &Ipld, ok: fn(Ordering) -> bool| {
        any(&|c: &Ipld| class(c) == class(x) && ok(naive_cmp(c, x)))
    };
    match cond {
        Cond::Exists(want) => *want,
        Cond::Eq(x) => any(&|c| naive_equal(c, x)),
        Cond::Ne(x) => !any(&|c| naive_equal(c, x)),
        Cond::In(xs) => xs.iter().any(|x| any(&|c| naive_equal(c, x))),
        Cond::Nin(xs) => !xs.iter().any(|x| any(&|c| naive_equal(c, x))),
        Cond::Gt(x) => ranged(x, Ordering::is_gt),
        Cond::Gte(x) => ranged(x, Ordering::is_ge),
        Cond::Lt(x) => ranged(x, Ordering::is_lt),
        Cond::Lte(x) => ranged(x, Ordering::is_le),
        Cond::Prefix(p) => any(&|c| matches!(c, Ipld::String(s) if s.starts_with(p.as_str()))),
    }
}

pub fn naive_matches(doc: &Ipld, filter: &Filter) -> bool {
    match filter {
        Filter::And(fs) => fs.iter().all(|f| naive_matches(doc, f)),
        Filter::Or(fs) => fs.iter().any(|f| naive_matches(doc, f)),
        Filter::Field(path, cond) => naive_cond(lookup(doc, path), cond),
    }
}

fn project(doc: &Ipld, projection: &Option<Vec<Path>>) -> Ipld {
    let Some(paths) = projection else {
        return doc.clone();
    };
    let mut out = BTreeMap::new();
    for path in paths {
        if let Some(v) = lookup(doc, path) {
            path.set(&mut out, v.clone());
        }
    }
    if let Ipld::Map(m) = doc {
        out.insert("_id".into(), m["_id"].clone());
    }
    Ipld::Map(out)
}

/// Every match of `query` among `docs` (with `_id`), in `sort` order then `_id` ascending, with
/// the query's skip applied but not its limit. `sort` is the effective sort (`explain` gives it
/// for a query without one).
pub fn naive_query(docs: &[Ipld], query: &Query, sort: &[SortField]) -> Vec<Ipld> {
    let mut matches: Vec<&Ipld> = docs
        .iter()
        .filter(|d| naive_matches(d, &query.filter))
        .collect();
    let id = Path::id();
    matches.sort_by(|a, b| {
        for field in sort {
            let ord = match (lookup(a, &field.path), lookup(b, &field.path)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => key::compare(x, y),
            };
            let ord = if field.order == Order::Descending {
                ord.reverse()
            } else {
                ord
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        key::compare(lookup(a, &id).expect("_id"), lookup(b, &id).expect("_id"))
    });
    matches
        .into_iter()
        .skip(query.skip as usize)
        .map(|d| project(d, &query.projection))
        .collect()
}

/// Every document of a collection, `_id` included, by a raw scan of its key range.
pub fn all_documents<S: Blockstore>(db: &Database<S>, collection: &str) -> Vec<Ipld> {
    let prefix = keyspace::documents_prefix(collection);
    scan(db, &prefix)
        .into_iter()
        .map(|(key, body)| {
            let id = document::decode_id(&key[prefix.len()..]).expect("document key");
            document::with_id(body.to_ipld().expect("body"), id).expect("map")
        })
        .collect()
}

fn scan<S: Blockstore>(db: &Database<S>, prefix: &[u8]) -> Vec<(Vec<u8>, prolly_tree::RawValue)> {
    let end = prefix_end(prefix);
    let hi = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    db.tree()
        .range(Bound::Included(prefix), hi, Direction::Forward)
        .expect("range")
        .expect_complete()
        .into_iter()
        .map(|(k, v)| (k.to_vec(), v))
        .collect()
}

/// Checks, by full scans, that every index of the collection holds exactly the entries its
/// documents give it, and nothing else.
pub fn check_indexes<S: Blockstore>(db: &Database<S>, collection: &str) -> Result<(), String> {
    let catalog = db
        .collection(collection)
        .map_err(|e| e.to_string())?
        .expect_complete();
    let docs = all_documents(db, collection);
    let mut expected_all = 0;
    for def in catalog.indexes.values() {
        let mut expected = Vec::new();
        for doc in &docs {
            let doc = Document::new(doc.clone(), || unreachable!()).map_err(|e| e.to_string())?;
            for entry in index::entries(collection, def, &doc).map_err(|e| e.to_string())? {
                expected.push((entry.key, entry.value));
            }
        }
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        expected_all += expected.len();
        let stored = scan(db, &keyspace::index_prefix(collection, &def.name));
        if stored != expected {
            return Err(format!(
                "index {}: {} entries stored, {} expected, first difference at {:?}",
                def.name,
                stored.len(),
                expected.len(),
                stored.iter().zip(&expected).position(|(a, b)| a != b)
            ));
        }
    }
    let all = scan(db, &keyspace::indexes_prefix(collection)).len();
    if all != expected_all {
        return Err(format!(
            "{all} index entries stored under the collection, {expected_all} expected"
        ));
    }
    Ok(())
}
