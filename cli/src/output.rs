//! What goes to stdout (data only: NDJSON documents, roots, counts) and to stderr (statistics,
//! as one line or, with --json, a JSON object).

use std::io::Write;

use ipld_core::ipld::Ipld;
use prolly_client::{Answer, Stats, TrustedRoot, Via};

use crate::failure::{Context, Result};

/// One document a line.
pub fn documents<'a>(docs: impl IntoIterator<Item = &'a Ipld>) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = docs
        .into_iter()
        .try_for_each(|doc| writeln!(out, "{}", prolly_db::ipld_to_json(doc)))
        .and_then(|()| out.flush());
    match written {
        // A reader that stopped early (`| head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("stdout"),
    }
}

pub fn line(text: impl std::fmt::Display) {
    println!("{text}");
}

/// The statistics of a read, on stderr.
pub fn read_stats(json: bool, what: &str, root: &TrustedRoot, via: &Via, stats: &Stats) {
    let via_text = match via {
        Via::Blocks => "blocks".to_string(),
        Via::Proof { peer } => format!("a proof from {peer}, verified"),
    };
    if json {
        let value = serde_json::json!({
            "result": what,
            "root": root.cid.to_string(),
            "root_origin": root.to_string(),
            "via": via_text,
            "round_trips": stats.rounds,
            "blocks_fetched": stats.blocks,
            "bytes_fetched": stats.bytes,
        });
        eprintln!("{value}");
    } else if stats.rounds == 0 {
        eprintln!("{what}; {root}");
    } else {
        eprintln!(
            "{what}; {root}; {} round trip(s), {} block(s), {} bytes fetched, via {via_text}",
            stats.rounds, stats.blocks, stats.bytes
        );
    }
}

/// An answer's statistics.
pub fn answer_stats(json: bool, what: &str, answer: &Answer) {
    read_stats(json, what, &answer.root, &answer.via, &answer.stats);
}
