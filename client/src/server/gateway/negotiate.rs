//! What a request asks for: a raw block or a CAR (with its scope, order and duplicates), from
//! the `format` query parameter and the `Accept` header (PROTOCOLS B1). `format` wins over
//! `Accept`; the `car-*` query parameters win over the `Accept` parameters.

pub(super) const RAW_TYPE: &str = "application/vnd.ipld.raw";
pub(super) const CAR_TYPE: &str = "application/vnd.ipld.car";

/// How much of the DAG below the terminus a CAR carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Block,
    /// For DAG-CBOR (and raw) the same blocks as `Block`: only UnixFS has larger entities.
    Entity,
    All,
}

impl Scope {
    fn parse(text: &str) -> Option<Scope> {
        match text {
            "block" => Some(Scope::Block),
            "entity" => Some(Scope::Entity),
            "all" => Some(Scope::All),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Scope::Block => "block",
            Scope::Entity => "entity",
            Scope::All => "all",
        }
    }
}

/// A CAR request's parameters. The order is always depth-first: `order=unk` allows any order,
/// so depth-first answers it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CarParams {
    pub scope: Scope,
    pub dups: bool,
    pub entity_bytes: Option<String>,
}

impl CarParams {
    pub(super) fn content_type(&self) -> String {
        let dups = if self.dups { "y" } else { "n" };
        format!("{CAR_TYPE}; version=1; order=dfs; dups={dups}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Format {
    Raw,
    Car(CarParams),
}

/// The format asked for, and whether only `Accept` named it (then the response says where the
/// same bytes live with `?format=`, in `Content-Location`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Negotiated {
    pub format: Format,
    pub from_accept: bool,
}

/// A query string's parameters, decoded, in order.
#[derive(Debug, Default)]
pub(super) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(super) fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k, true), percent_decode(v, true))
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `key`: a repeated parameter does not override.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes `%XX` escapes (and `+` as a space in a query); a bad escape stays as written, and
/// bytes that are not UTF-8 become U+FFFD.
pub(super) fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One entry of an `Accept` header.
#[derive(Debug)]
struct MediaRange {
    essence: String,
    params: Vec<(String, String)>,
    q: f32,
}

impl MediaRange {
    fn parse(text: &str) -> Option<MediaRange> {
        let mut parts = text.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        if essence.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        let mut q = 1.0;
        for param in parts {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            let key = k.trim().to_ascii_lowercase();
            let value = v.trim().trim_matches('"').to_ascii_lowercase();
            if key == "q" {
                q = value.parse().unwrap_or(0.0);
            } else {
                params.push((key, value));
            }
        }
        Some(MediaRange { essence, params, q })
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The supported entries of `Accept` headers, most preferred first (ties keep header order);
/// `q=0` means "not this".
fn accepted(accept: &[&str]) -> Vec<MediaRange> {
    let mut ranges: Vec<MediaRange> = accept
        .iter()
        .flat_map(|header| header.split(','))
        .filter_map(MediaRange::parse)
        .filter(|r| r.q > 0.0 && (r.essence == RAW_TYPE || r.essence == CAR_TYPE))
        .collect();
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
    ranges
}

/// The format `query` and the `Accept` header values ask for, or why the request is refused.
/// With neither, the answer is 400: this gateway serves only trustless formats.
pub(super) fn negotiate(query: &Query, accept: &[&str]) -> Result<Negotiated, String> {
    let ranges = accepted(accept);
    let car_range = ranges.iter().find(|r| r.essence == CAR_TYPE);
    let (is_car, from_accept) = match query.get("format") {
        Some("raw") => (false, false),
        Some("car") => (true, false),
        Some(other) => return Err(format!("unsupported format {other:?}: use raw or car")),
        None => match ranges.first() {
            Some(range) => (range.essence == CAR_TYPE, true),
            None => {
                return Err(format!(
                    "only trustless requests are accepted: ask for ?format=raw or ?format=car, \
                     or Accept: {RAW_TYPE} or {CAR_TYPE}"
                ));
            }
        },
    };
    let format = if is_car {
        Format::Car(car_params(query, car_range)?)
    } else {
        Format::Raw
    };
    Ok(Negotiated {
        format,
        from_accept,
    })
}

/// A CAR's parameters: the query's `car-*` over the `Accept` entry's, each checked.
fn car_params(query: &Query, range: Option<&MediaRange>) -> Result<CarParams, String> {
    let pick = |q: &str, a: &str| query.get(q).or_else(|| range.and_then(|r| r.param(a)));
    match pick("car-version", "version") {
        None | Some("1") => {}
        Some(v) => return Err(format!("unsupported CAR version {v:?}: only 1")),
    }
    match pick("car-order", "order") {
        None | Some("dfs") | Some("unk") => {}
        Some(o) => return Err(format!("unsupported CAR order {o:?}: dfs or unk")),
    }
    let dups = match pick("car-dups", "dups") {
        None | Some("n") => false,
        Some("y") => true,
        Some(d) => return Err(format!("unsupported CAR dups {d:?}: y or n")),
    };
    let entity_bytes = query.get("entity-bytes").map(str::to_owned);
    let scope = match (query.get("dag-scope"), &entity_bytes) {
        (_, Some(range)) => {
            check_entity_bytes(range)?;
            // A byte range is a slice of one entity.
            Scope::Entity
        }
        (None, None) => Scope::All,
        (Some(s), None) => Scope::parse(s).ok_or_else(|| format!("unsupported dag-scope {s:?}"))?,
    };
    Ok(CarParams {
        scope,
        dups,
        entity_bytes,
    })
}

/// `from:to`, integers (negative from the end) or `*` for the end. Only UnixFS files have bytes,
/// so for the DAGs this gateway walks the range selects the whole entity.
fn check_entity_bytes(range: &str) -> Result<(), String> {
    let bad = || format!("bad entity-bytes {range:?}: from:to");
    let (from, to) = range.split_once(':').ok_or_else(bad)?;
    from.parse::<i64>().map_err(|_| bad())?;
    if to != "*" {
        to.parse::<i64>().map_err(|_| bad())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn car(query: &str, accept: &[&str]) -> Result<CarParams, String> {
        match negotiate(&Query::parse(Some(query)), accept)?.format {
            Format::Car(p) => Ok(p),
            Format::Raw => Err("raw".into()),
        }
    }

    #[test]
    fn format_beats_accept_and_query_beats_accept_params() {
        let n = negotiate(&Query::parse(Some("format=raw")), &[CAR_TYPE]).unwrap();
        assert_eq!(n.format, Format::Raw);
        assert!(!n.from_accept);
        let p = car(
            "car-dups=y",
            &["application/vnd.ipld.car; version=1; dups=n"],
        )
        .unwrap();
        assert!(p.dups);
        let p = car(
            "format=car",
            &["application/vnd.ipld.car; order=unk; dups=y"],
        )
        .unwrap();
        assert!(p.dups);
        assert_eq!(p.scope, Scope::All);
    }

    #[test]
    fn refusals() {
        assert!(negotiate(&Query::default(), &[]).is_err());
        assert!(negotiate(&Query::default(), &["*/*", "text/html"]).is_err());
        assert!(car("format=car&car-version=2", &[]).is_err());
        assert!(car("", &["application/vnd.ipld.car; version=2"]).is_err());
        assert!(car("format=car&car-order=bfs", &[]).is_err());
        assert!(car("format=car&car-dups=maybe", &[]).is_err());
        assert!(car("format=car&dag-scope=some", &[]).is_err());
        assert!(car("format=car&entity-bytes=1-2", &[]).is_err());
        assert!(negotiate(&Query::parse(Some("format=ipns-record")), &[]).is_err());
    }

    #[test]
    fn accept_prefers_higher_q() {
        let n = negotiate(
            &Query::default(),
            &["application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car"],
        )
        .unwrap();
        assert!(matches!(n.format, Format::Car(_)));
        assert!(n.from_accept);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c%zz%4", true), "a b c%zz%4");
        assert_eq!(percent_decode("%", false), "%");
        assert_eq!(percent_decode("%ff", false), "\u{fffd}");
        let q = Query::parse(Some("filename=x%22y.bin&filename=other&flag"));
        assert_eq!(q.get("filename"), Some("x\"y.bin"));
        assert_eq!(q.get("flag"), Some(""));
    }
}
