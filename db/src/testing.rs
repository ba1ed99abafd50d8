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
        key::compare_values(a, b)
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

/// Every match of `query` among `docs` (with `_id`), in the query's sort order then `_id`
/// ascending, with the query's skip applied but not its limit. A query without a sort comes in
/// its chosen index's order (SPEC §15), which only the planner knows: `unsorted_order` is that
/// order (`explain(query).sort`), and is not looked at when the query sorts.
pub fn naive_query(docs: &[Ipld], query: &Query, unsorted_order: &[SortField]) -> Vec<Ipld> {
    let sort = if query.sort.is_empty() {
        unsorted_order
    } else {
        &query.sort
    };
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
                (Some(x), Some(y)) => key::compare_values(x, y),
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
        key::compare_values(lookup(a, &id).expect("_id"), lookup(b, &id).expect("_id"))
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
    let docs = all_documents(db, collection)
        .into_iter()
        .map(|doc| Document::new(doc, || unreachable!("stored documents have ids")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut expected_all = 0;
    for def in catalog.indexes.values() {
        let mut expected = Vec::new();
        for doc in &docs {
            for entry in index::entries(collection, def, doc).map_err(|e| e.to_string())? {
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

// ---------------------------------------------------------------------------------------------
// Real data.

/// The data directory: `PROLLYDB_DATA`, or `../shared/data` beside the repository.
pub fn data_dir() -> std::path::PathBuf {
    std::env::var_os("PROLLYDB_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
        })
}

/// The 336,776 flights of nycflights13 as documents, `_id` = row number (from 0). Numbers are
/// typed as integers (floats where they have a fraction), `NA` becomes null, the rest strings.
/// `None` when the file is absent.
pub fn nyc_flights() -> Option<Vec<Ipld>> {
    use std::io::Read;
    let path = data_dir().join("nycflights13/flights.csv.gz");
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("flights.csv.gz is gzip'd UTF-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let mut docs = Vec::with_capacity(336_776);
    for (row, line) in lines.enumerate() {
        let mut doc = BTreeMap::new();
        doc.insert("_id".to_string(), Ipld::Integer(row as i128));
        for (name, field) in header.iter().zip(line.split(',')) {
            let value = if field == "NA" {
                Ipld::Null
            } else if let Ok(i) = field.parse::<i64>() {
                Ipld::Integer(i.into())
            } else if let Ok(f) = field.parse::<f64>() {
                Ipld::Float(f)
            } else {
                Ipld::String(field.to_string())
            };
            doc.insert(name.to_string(), value);
        }
        docs.push(Ipld::Map(doc));
    }
    Some(docs)
}

/// The three indexes of the flights benchmark and test.
pub fn flight_indexes() -> Vec<IndexDef> {
    let def = |name: &str, fields: &[&str]| IndexDef {
        name: name.to_string(),
        fields: fields
            .iter()
            .map(|f| IndexField {
                path: Path::parse(f).expect("valid"),
                order: Order::Ascending,
                each: false,
            })
            .collect(),
        unique: false,
        include: Vec::new(),
    };
    vec![
        def("by_carrier_day", &["carrier", "month", "day"]),
        def("by_route", &["origin", "dest"]),
        def("by_delay", &["dep_delay"]),
    ]
}

/// Flights-shaped documents for when the real data set is absent: the same fields and types,
/// drawn from a fixed generator (SplitMix64), so every run makes the same ones.
pub fn synthetic_flights(n: usize) -> Vec<Ipld> {
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    const CARRIERS: [&str; 16] = [
        "9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL", "HA", "MQ", "OO", "UA", "US", "VX", "WN",
        "YV",
    ];
    const ORIGINS: [&str; 3] = ["EWR", "JFK", "LGA"];
    (0..n)
        .map(|row| {
            let mut doc = BTreeMap::new();
            let int = |v: u64| Ipld::Integer(v.into());
            let cancelled = next() % 100 < 3;
            let dep_time = next() % 2400;
            doc.insert("_id".to_string(), Ipld::Integer(row as i128));
            doc.insert("year".into(), int(2013));
            doc.insert("month".into(), int(1 + next() % 12));
            doc.insert("day".into(), int(1 + next() % 28));
            doc.insert(
                "dep_time".into(),
                if cancelled { Ipld::Null } else { int(dep_time) },
            );
            doc.insert("sched_dep_time".into(), int(dep_time));
            doc.insert(
                "dep_delay".into(),
                if cancelled {
                    Ipld::Null
                } else {
                    Ipld::Integer((next() % 120) as i128 - 20)
                },
            );
            let carrier = CARRIERS[(next() % 16) as usize];
            doc.insert("carrier".into(), Ipld::String(carrier.into()));
            doc.insert("flight".into(), int(next() % 6000));
            doc.insert(
                "tailnum".into(),
                Ipld::String(format!("N{}", next() % 4000)),
            );
            doc.insert(
                "origin".into(),
                Ipld::String(ORIGINS[(next() % 3) as usize].into()),
            );
            doc.insert("dest".into(), Ipld::String(format!("D{:02}", next() % 100)));
            doc.insert("distance".into(), int(100 + next() % 4900));
            Ipld::Map(doc)
        })
        .collect()
}

/// The first `n` rows of vega-datasets' 3M US flights as documents `{_id: row, date, delay,
/// distance, origin, destination}` (date as its sortable text). `None` when the file is absent.
pub fn vega_flights(n: usize) -> Option<Vec<Ipld>> {
    use std::io::{BufRead, BufReader};
    let path = data_dir().join("vega-flights-3m/flights-3m.csv.gz");
    let file = std::fs::File::open(path).ok()?;
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut docs = Vec::with_capacity(n);
    for (row, line) in reader.lines().skip(1).take(n).enumerate() {
        let line = line.ok()?;
        let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
        let [date, delay, distance, origin, destination] = fields[..] else {
            return None;
        };
        let int = |s: &str| {
            s.parse::<i64>()
                .map_or(Ipld::Null, |i| Ipld::Integer(i.into()))
        };
        docs.push(Ipld::Map(BTreeMap::from([
            ("_id".to_string(), Ipld::Integer(row as i128)),
            ("date".to_string(), Ipld::String(date.to_string())),
            ("delay".to_string(), int(delay)),
            ("distance".to_string(), int(distance)),
            ("origin".to_string(), Ipld::String(origin.to_string())),
            (
                "destination".to_string(),
                Ipld::String(destination.to_string()),
            ),
        ])));
    }
    Some(docs)
}

/// Seconds since 1970 (UTC) of an ISO 8601 time with an offset, `2026-07-24T05:27:57-10:00`.
pub fn iso8601_to_unix(text: &str) -> Option<i64> {
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let offset = match text.get(19..)? {
        "Z" => 0,
        tz => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (tz.get(1..3)?.parse::<i64>().ok()? * 3600
                + tz.get(4..6)?.parse::<i64>().ok()? * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

/// The first `n` kubo commits as documents `{_id: hash, author, time (UTC seconds), tags,
/// subject}`. `None` when the data set is absent.
#[cfg(feature = "json")]
pub fn kubo_commits(n: usize) -> Option<Vec<Ipld>> {
    use std::io::{BufRead, BufReader};
    let file = std::fs::File::open(data_dir().join("kubo-commits/commits.ndjson.gz")).ok()?;
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut docs = Vec::with_capacity(n.min(1 << 16));
    for line in reader.lines().take(n) {
        let value: serde_json::Value = serde_json::from_str(&line.ok()?).ok()?;
        let time = iso8601_to_unix(value["time"].as_str()?)?;
        let tags = value["tags"]
            .as_array()?
            .iter()
            .filter_map(|t| t.as_str().map(|s| Ipld::String(s.to_string())))
            .collect();
        docs.push(Ipld::Map(BTreeMap::from([
            (
                "_id".to_string(),
                Ipld::String(value["id"].as_str()?.to_string()),
            ),
            (
                "author".to_string(),
                Ipld::String(value["author"].as_str()?.to_string()),
            ),
            ("time".to_string(), Ipld::Integer(time.into())),
            ("tags".to_string(), Ipld::List(tags)),
            (
                "subject".to_string(),
                Ipld::String(value["subject"].as_str()?.to_string()),
            ),
        ])));
    }
    Some(docs)
}
