//! The planner: which index a query reads, which key ranges, and in what order. The choice depends
//! only on the query and the catalog, so every verifier makes the same one (spec/SPEC.md, "The
//! planner rule").
//!
//! For each index (the primary key order `_id` first, then the secondary indexes by name):
//! 1. Equality prefix: walk the index fields while the field has a top-level `$eq` or `$in` whose
//!    operands are all scalars (not lists or maps). Each gives a set of points (numerically equal
//!    values, `1` and `1.0`), and the product of the point counts must stay at most 64.
//! 2. Range: the next field, if not `path[]`, takes every `$gt $gte $lt $lte $prefix` on it with a
//!    scalar operand, intersected (type-bracketed, so `$gt: 5` spans numbers only).
//! 3. An index with a `path[]` field outside the equality prefix is not usable.
//! 4. The index gives the sort when the sort, cut at `_id` ascending, is some equality fields
//!    followed by exactly the index fields after the equality prefix, in their orders, and names
//!    no `path[]` field. Without a sort, the order is the index fields after the prefix, then `_id`.
//!    A sort on `_id` alone asks for `_id` order: it cuts to an empty sort, not to no sort.
//!
//! The plan with the most bound fields (equality fields, plus one for a range) wins; then one that
//! gives the sort; then the primary order; then fewer index fields; then the lower name.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use ipld_core::ipld::Ipld;

use crate::catalog::{Collection, IndexDef, IndexField, PRIMARY, order_name};
use crate::filter::{Cond, Filter};
use crate::key::{self, Class, Order};
use crate::keyspace::{self, prefix_end};
use crate::path::Path;
use crate::query::{Query, SortField};

/// Most key ranges one query scans (the product of its `$in` point counts).
pub const MAX_STREAMS: usize = 64;

/// One key range of the chosen index, for one combination of equality points.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Keys at or above this.
    pub lo: Vec<u8>,
    /// Keys below this (`None`: no bound).
    pub hi: Option<Vec<u8>>,
    /// What a position's remaining bytes are appended to when a page resumes in this range.
    pub base: Vec<u8>,
    /// The equality points of the sort's leading equality fields, in sort order and orders.
    pub eq_sort_key: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `_id` for the primary key order, or the index name.
    pub index: String,
    pub fields: Vec<IndexField>,
    pub primary: bool,
    pub eq_fields: usize,
    pub range_field: bool,
    pub streams: Vec<Stream>,
    /// The order results come in (before the `_id` tiebreak).
    pub sort: Vec<SortField>,
    /// The index gives the order: results stream, no in-memory sort.
    pub index_order: bool,
    /// No field is bound: the whole index (or collection) is read.
    pub full_scan: bool,
    /// Every path the query reads is in the index entries: no document fetch.
    pub covering: bool,
    /// The key ranges are exactly the matches (counts can use the tree's per-child counts).
    pub exact: bool,
    /// How many of the sort's leading fields are equality fields.
    pub eq_sort_fields: usize,
}

impl Plan {
    pub fn in_memory_sort(&self) -> bool {
        !self.index_order
    }

    /// A one-line account for `explain`.
    pub fn describe(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("{} {}", f.spelling(), order_name(f.order)))
            .collect();
        let sort: Vec<String> = self
            .sort
            .iter()
            .map(|s| format!("{} {}", s.path, order_name(s.order)))
            .collect();
        format!(
            "index {} ({}); {} equality field(s){}; {} range(s); order [{}{}_id asc]{}{}{}",
            self.index,
            fields.join(", "),
            self.eq_fields,
            if self.range_field { " + range" } else { "" },
            self.streams.len(),
            sort.join(", "),
            if sort.is_empty() { "" } else { ", " },
            if self.full_scan { "; FULL SCAN" } else { "" },
            if self.index_order {
                ""
            } else {
                "; IN-MEMORY SORT"
            },
            if self.covering { "; covering" } else { "" },
        )
    }
}

fn scalar(value: &Ipld) -> bool {
    !matches!(value, Ipld::List(_) | Ipld::Map(_))
}

/// The conditions of the filter's top-level `$and`.
fn field_conds(filter: &Filter) -> Vec<(&Path, &Cond)> {
    filter
        .conjuncts()
        .into_iter()
        .filter_map(|f| match f {
            Filter::Field(path, cond) => Some((path, cond)),
            _ => None,
        })
        .collect()
}

/// The equality points of a field in key order, encoded in `order`.
fn eq_points(conds: &[(&Path, &Cond)], path: &Path, order: Order) -> Option<Vec<Vec<u8>>> {
    conds.iter().find_map(|(p, cond)| {
        if *p != path {
            return None;
        }
        let operands: Vec<&Ipld> = match cond {
            Cond::Eq(x) => vec![x],
            Cond::In(xs) => xs.iter().collect(),
            _ => return None,
        };
        if !operands.iter().all(|x| scalar(x)) {
            return None;
        }
        let mut points = BTreeSet::new();
        for operand in operands {
            for value in key::numeric_equals(operand) {
                let mut out = Vec::new();
                key::encode_value(&mut out, &value, order).ok()?;
                points.insert(out);
            }
        }
        Some(points.into_iter().collect())
    })
}

/// A bound on one element, in ascending terms: at or above / strictly above everything that
/// starts with `p`; strictly below / up to everything that starts with `p`.
#[derive(Clone)]
enum Lo {
    AtLeast(Vec<u8>),
    After(Vec<u8>),
}

#[derive(Clone)]
enum Hi {
    Before(Vec<u8>),
    Through(Vec<u8>),
}

fn encoded(value: &Ipld) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    key::encode_value(&mut out, value, Order::Ascending).ok()?;
    Some(out)
}

/// The ascending element interval of one range condition (type-bracketed).
fn range_of(cond: &Cond) -> Option<(Lo, Hi)> {
    let bracket = |x: &Ipld| {
        let (start, end) = Class::of(x).tag_range();
        (Lo::AtLeast(vec![start]), Hi::Before(vec![end]))
    };
    let lowest = |x: &Ipld| encoded(key::numeric_equals(x).first()?);
    let highest = |x: &Ipld| encoded(key::numeric_equals(x).last()?);
    Some(match cond {
        Cond::Gt(x) if scalar(x) => (Lo::After(highest(x)?), bracket(x).1),
        Cond::Gte(x) if scalar(x) => (Lo::AtLeast(lowest(x)?), bracket(x).1),
        Cond::Lt(x) if scalar(x) => (bracket(x).0, Hi::Before(lowest(x)?)),
        Cond::Lte(x) if scalar(x) => (bracket(x).0, Hi::Through(highest(x)?)),
        Cond::Prefix(p) => {
            let p = key::string_prefix(p);
            (Lo::AtLeast(p.clone()), Hi::Through(p))
        }
        _ => return None,
    })
}

fn complement(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|b| !b).collect()
}

/// The element interval as byte bounds for a field of `order`: at or above `lo`, below `hi`.
/// `None` when nothing can match.
fn normalize(lo: Lo, hi: Hi, order: Order) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    // A descending element is the complement of the ascending one: the bounds swap sides.
    let (lo, hi) = match order {
        Order::Ascending => (lo, hi),
        Order::Descending => (
            match hi {
                Hi::Before(p) => Lo::After(complement(&p)),
                Hi::Through(p) => Lo::AtLeast(complement(&p)),
            },
            match lo {
                Lo::AtLeast(p) => Hi::Through(complement(&p)),
                Lo::After(p) => Hi::Before(complement(&p)),
            },
        ),
    };
    let lo = match lo {
        Lo::AtLeast(p) => p,
        Lo::After(p) => prefix_end(&p)?,
    };
    let hi = match hi {
        Hi::Before(p) => Some(p),
        Hi::Through(p) => prefix_end(&p),
    };
    Some((lo, hi))
}

/// The intersection of every range condition on `path`, and how many conditions it used.
/// `Some(None)`: the conditions contradict each other.
#[allow(clippy::type_complexity)]
fn range_bounds(
    conds: &[(&Path, &Cond)],
    path: &Path,
    order: Order,
) -> Option<(Option<(Vec<u8>, Option<Vec<u8>>)>, usize)> {
    let mut lo: Vec<u8> = Vec::new();
    let mut hi: Option<Vec<u8>> = None;
    let mut used = 0;
    let mut empty = false;
    for (p, cond) in conds {
        if *p != path {
            continue;
        }
        let Some((l, h)) = range_of(cond) else {
            continue;
        };
        used += 1;
        match normalize(l, h, order) {
            None => empty = true,
            Some((l, h)) => {
                lo = lo.max(l);
                hi = match (hi, h) {
                    (None, h) => h,
                    (h, None) => h,
                    (Some(a), Some(b)) => Some(a.min(b)),
                };
            }
        }
    }
    if used == 0 {
        return None;
    }
    if empty || hi.as_ref().is_some_and(|h| lo >= *h) {
        return Some((None, used));
    }
    Some((Some((lo, hi)), used))
}

/// The sort the query asks for, cut at `_id` ascending (the tiebreak already gives it), or `None`
/// when it asks for none. A sort on `_id` alone cuts to an empty sort, which asks for `_id` order:
/// not the same as no sort, which takes the index's order.
fn requested_sort(query: &Query) -> Option<Vec<SortField>> {
    if query.sort.is_empty() {
        return None;
    }
    let mut sort = Vec::new();
    for field in &query.sort {
        if field.path.is_id() && field.order == Order::Ascending {
            break;
        }
        sort.push(field.clone());
    }
    Some(sort)
}

/// What choosing between indexes needs to know of one: its bound fields and whether it gives the
/// order, with what building its plan reuses. Only the chosen index's plan is built: building one
/// for every index (key ranges, sort keys, the covering check) was 3% of verifying a covering
/// query, which the actor pays on every query too.
struct Shape<'q> {
    def: Option<&'q IndexDef>,
    fields: std::borrow::Cow<'q, [IndexField]>,
    /// The equality points of each equality field, in key order.
    points: Vec<Vec<Vec<u8>>>,
    /// The conditions the equality and range fields use.
    used: usize,
    range_field: bool,
    /// The range field's element bounds; `None`: the conditions contradict each other.
    element: Option<(Vec<u8>, Option<Vec<u8>>)>,
    index_order: bool,
    eq_sort_fields: usize,
    score: (usize, bool, bool, std::cmp::Reverse<usize>),
}

fn shape<'q>(
    conds: &[(&Path, &Cond)],
    requested: Option<&[SortField]>,
    def: Option<&'q IndexDef>,
) -> Option<Shape<'q>> {
    let sort = requested.unwrap_or(&[]);
    let fields = match def {
        None => std::borrow::Cow::Owned(vec![IndexField {
            path: Path::id(),
            order: Order::Ascending,
            each: false,
        }]),
        Some(def) => std::borrow::Cow::Borrowed(def.fields.as_slice()),
    };
    let primary = def.is_none();

    // 1. The equality prefix, as the cartesian product of its points.
    let mut points: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut combos = 1;
    for field in fields.iter() {
        let Some(field_points) = eq_points(conds, &field.path, field.order) else {
            break;
        };
        if combos * field_points.len().max(1) > MAX_STREAMS {
            break;
        }
        combos *= field_points.len();
        points.push(field_points);
    }
    let eq_fields = points.len();
    // 3. Multi-entry fields must be pinned by equality.
    if fields[eq_fields..].iter().any(|f| f.each) {
        return None;
    }
    // 2. One range field.
    let mut range_field = false;
    let mut element = Some((Vec::new(), None));
    let mut range_used = 0;
    if let Some(field) = fields.get(eq_fields)
        && let Some((bounds, n)) = range_bounds(conds, &field.path, field.order)
    {
        range_field = true;
        range_used = n;
        element = bounds;
    }
    let eq_paths = &fields[..eq_fields];
    let is_eq = |path: &Path| eq_paths.iter().any(|f| f.path == *path);

    // 4. Whether the index gives the order: the sort after its equality fields is the index's
    // remaining fields (none for the primary order), in their orders.
    let eq_sort_fields = sort.iter().take_while(|s| is_eq(&s.path)).count();
    let index_order = requested.is_none() || {
        let remaining = if primary {
            &[][..]
        } else {
            &fields[eq_fields..]
        };
        let tail = &sort[eq_sort_fields..];
        let multi_in_sort = sort
            .iter()
            .any(|s| fields.iter().any(|f| f.each && f.path == s.path));
        !multi_in_sort
            && tail.iter().all(|s| !is_eq(&s.path))
            && tail.len() == remaining.len()
            && tail
                .iter()
                .zip(remaining)
                .all(|(s, f)| s.path == f.path && s.order == f.order)
    };
    let bound = eq_fields + usize::from(range_field);
    Some(Shape {
        score: (bound, index_order, primary, std::cmp::Reverse(fields.len())),
        def,
        fields,
        points,
        used: eq_fields + range_used,
        range_field,
        element,
        index_order,
        eq_sort_fields,
    })
}

impl Shape<'_> {
    /// The plan of the chosen index.
    fn into_plan(self, query: &Query, requested: Option<&[SortField]>) -> Plan {
        let Shape {
            def,
            fields,
            points,
            used,
            range_field,
            element,
            index_order,
            eq_sort_fields,
            ..
        } = self;
        let sort = requested.unwrap_or(&[]);
        let collection = &query.collection;
        let primary = def.is_none();
        let (name, prefix) = match def {
            None => (PRIMARY.to_string(), keyspace::documents_prefix(collection)),
            Some(def) => (
                def.name.clone(),
                keyspace::index_prefix(collection, &def.name),
            ),
        };
        let eq_fields = points.len();
        let mut combos: Vec<(Vec<&[u8]>, Vec<u8>)> = vec![(Vec::new(), prefix.clone())];
        for field_points in &points {
            combos = combos
                .iter()
                .flat_map(|(spans, key)| {
                    field_points.iter().map(move |p| {
                        let mut spans = spans.clone();
                        spans.push(p.as_slice());
                        let mut key = key.clone();
                        key.extend_from_slice(p);
                        (spans, key)
                    })
                })
                .collect();
        }
        let eq_sort = &sort[..if index_order { eq_sort_fields } else { 0 }];
        let streams = match &element {
            None => Vec::new(),
            Some((element_lo, element_hi)) => combos
                .into_iter()
                .map(|(spans, key_prefix)| {
                    let mut lo = key_prefix.clone();
                    lo.extend_from_slice(element_lo);
                    let hi = match element_hi {
                        Some(h) => {
                            let mut hi = key_prefix.clone();
                            hi.extend_from_slice(h);
                            Some(hi)
                        }
                        None => prefix_end(&key_prefix),
                    };
                    let mut eq_sort_key = Vec::new();
                    for s in eq_sort {
                        let at = fields
                            .iter()
                            .position(|f| f.path == s.path)
                            .expect("eq field");
                        if fields[at].order == s.order {
                            eq_sort_key.extend_from_slice(spans[at]);
                        } else {
                            eq_sort_key.extend(complement(spans[at]));
                        }
                    }
                    Stream {
                        lo,
                        hi,
                        base: if primary { prefix.clone() } else { key_prefix },
                        eq_sort_key,
                    }
                })
                .collect(),
        };
        let effective_sort = match requested {
            // Without a sort, the order is the index's remaining fields.
            None if !primary => fields[eq_fields..]
                .iter()
                .map(|f| SortField {
                    path: f.path.clone(),
                    order: f.order,
                })
                .collect(),
            _ => sort.to_vec(),
        };
        let covering = !primary
            && query.projection.as_ref().is_some_and(|projection| {
                let covered = |p: &Path| {
                    p.is_id()
                        || fields.iter().any(|f| !f.each && f.path == *p)
                        || def.is_some_and(|d| d.include.contains(p))
                };
                let mut filtered = Vec::new();
                query.filter.paths(&mut filtered);
                filtered.iter().all(covered)
                    && projection.iter().all(covered)
                    && sort.iter().all(|s| covered(&s.path))
            });
        let all_conds = query.filter.conjuncts();
        let exact = all_conds.len() == used
            && all_conds.iter().all(|f| matches!(f, Filter::Field(..)))
            && fields[..eq_fields].iter().all(|f| !f.each);
        let bound = eq_fields + usize::from(range_field);
        Plan {
            index: name,
            fields: fields.into_owned(),
            primary,
            eq_fields,
            range_field,
            streams,
            sort: effective_sort,
            index_order,
            full_scan: bound == 0,
            covering,
            exact,
            eq_sort_fields: if index_order { eq_sort_fields } else { 0 },
        }
    }
}

/// Whether every condition of the filter is a top-level condition on `_id` (then no secondary
/// index can bind a field, and the primary order wins whenever it binds `_id`).
pub fn only_id(query: &Query) -> bool {
    query
        .filter
        .conjuncts()
        .iter()
        .all(|f| matches!(f, Filter::Field(path, _) if path.is_id()))
}

/// Chooses the plan for a query over a collection.
pub fn plan(query: &Query, collection: &Collection) -> Plan {
    let conds = field_conds(&query.filter);
    let sort = requested_sort(query);
    let mut best: Option<Shape> = None;
    let defs = std::iter::once(None).chain(collection.indexes.values().map(Some));
    for def in defs {
        let Some(candidate) = shape(&conds, sort.as_deref(), def) else {
            continue;
        };
        // Strictly better only: on a full tie the earlier (primary, then lower name) stays.
        if best
            .as_ref()
            .is_none_or(|b| candidate.score.cmp(&b.score) == Ordering::Greater)
        {
            best = Some(candidate);
        }
    }
    best.expect("the primary order is always usable")
        .into_plan(query, sort.as_deref())
}
