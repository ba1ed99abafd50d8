//! Flights shaped like vega-datasets' (date text, delay, distance, origin, destination), real or
//! generated, for the benches that query "flights from an origin sorted by date".

use ipld_core::ipld::Ipld;
use prolly_db::testing::{synthetic_flights, vega_flights};

/// The first `n` vega-datasets flights, or as many generated ones of the same shape when the data
/// set is absent; and which of the two it is.
pub fn vega_shaped_flights(n: usize) -> (Vec<Ipld>, &'static str) {
    match vega_flights(n) {
        Some(docs) if docs.len() == n => (docs, "vega-flights-3m (real)"),
        _ => {
            // Same fields as vega: date text, delay, distance, origin, destination.
            let docs = synthetic_flights(n)
                .into_iter()
                .map(|d| {
                    let Ipld::Map(m) = d else { unreachable!() };
                    let get = |k: &str| m[k].clone();
                    let date = match (&m["month"], &m["day"], &m["sched_dep_time"]) {
                        (Ipld::Integer(mo), Ipld::Integer(da), Ipld::Integer(t)) => {
                            format!(
                                "2001-{mo:02}-{da:02} {:02}:{:02}:00.000000",
                                t / 100,
                                t % 100
                            )
                        }
                        _ => unreachable!(),
                    };
                    Ipld::Map(
                        [
                            ("_id".to_string(), get("_id")),
                            ("date".to_string(), Ipld::String(date)),
                            ("delay".to_string(), get("dep_delay")),
                            ("distance".to_string(), get("distance")),
                            ("origin".to_string(), get("origin")),
                            ("destination".to_string(), get("dest")),
                        ]
                        .into(),
                    )
                })
                .collect();
            (docs, "generated flights (data set absent)")
        }
    }
}
