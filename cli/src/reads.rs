//! The read commands, the same over a local database and over remote nodes: they run through a
//! `Reader` whatever its store and sources are (one read path).

use std::path::Path;

use cid::Cid;
use ipld_core::ipld::Ipld;
use prolly_client::{Local, Reader, TrustedRoot, Via};
use prolly_db::Query;
use prolly_tree::{Outcome, ready};

use crate::args::{Cli, Command};
use crate::failure::{Context, Failure, Result, plain};
use crate::output;

/// QUERY is the JSON of SPEC section 15 without "collection"; an object with none of the query's
/// keys is a filter.
pub fn parse_query(collection: &str, text: &str) -> Result<Query> {
    let value: serde_json::Value =
        serde_json::from_str(text).context(format!("the query {text:?} is not JSON"))?;
    let serde_json::Value::Object(mut map) = value else {
        return Err(Failure::new(format!(
            "the query {text:?} is not a JSON object"
        )));
    };
    const KEYS: [&str; 9] = [
        "filter",
        "sort",
        "limit",
        "skip",
        "count",
        "projection",
        "cursor",
        "budget",
        "require_index",
    ];
    if !map.keys().any(|k| KEYS.contains(&k.as_str())) {
        map = serde_json::Map::from_iter([("filter".to_string(), serde_json::Value::Object(map))]);
    }
    map.insert(
        "collection".into(),
        serde_json::Value::String(collection.into()),
    );
    Query::from_json(&serde_json::Value::Object(map).to_string()).map_err(plain)
}

pub fn parse_cid(text: &str) -> Result<Cid> {
    Cid::try_from(text).map_err(|e| Failure::usage(format!("{text:?} is not a CID: {e}")))
}

/// Runs a read command of `cli` at `root` through `reader`.
pub async fn run<L: Local>(reader: &Reader<L>, root: &TrustedRoot, cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Query {
            collection,
            query,
            proof,
            explain,
            all,
            ..
        } => {
            let query = parse_query(collection, query)?;
            if *explain {
                let (plan, _) = reader.explain(&root.cid, &query).await.map_err(plain)?;
                output::line(plan.describe());
                return Ok(());
            }
            run_query(reader, root, query, proof.as_deref(), *all, cli.json).await
        }
        Command::Count { collection, filter } => {
            let mut query = parse_query(collection, filter)?;
            query.count = true;
            let answer = reader.query(root, &query).await.map_err(plain)?;
            let count = answer.result.count.unwrap_or_default();
            output::line(count);
            output::answer_stats(cli.json, &format!("{count} matching"), &answer);
            Ok(())
        }
        Command::Root => {
            output::line(root.cid);
            eprintln!("{root}");
            Ok(())
        }
        Command::Collections => {
            let (collections, stats) = reader.collections(&root.cid).await.map_err(plain)?;
            for (name, collection) in &collections {
                let indexes: Vec<serde_json::Value> = collection
                    .indexes
                    .values()
                    .map(|def| prolly_db::ipld_to_json(&def.to_ipld()))
                    .collect();
                output::line(serde_json::json!({"collection": name, "indexes": indexes}));
            }
            let what = format!("{} collection(s)", collections.len());
            output::read_stats(cli.json, &what, root, &Via::Blocks, &stats);
            Ok(())
        }
        Command::Stats => stats(reader, root, cli.json).await,
        Command::Diff { from, to } => {
            let (from, to) = (parse_cid(from)?, parse_cid(to)?);
            let (lines, stats) = diff_lines(reader, from, to, None).await?;
            for line in &lines {
                output::line(line);
            }
            let what = format!("{} change(s) from {from} to {to}", lines.len());
            output::read_stats(cli.json, &what, root, &Via::Blocks, &stats);
            Ok(())
        }
        _ => Err(Failure::usage("this command needs --db DIR")),
    }
}

/// The documents added, removed and changed from `from` to `to` (of one collection, or all), one
/// JSON object each: `{"collection", "change", "doc"}` (and `"before"` for a change).
pub async fn diff_lines<L: Local>(
    reader: &Reader<L>,
    from: Cid,
    to: Cid,
    only: Option<&str>,
) -> Result<(Vec<serde_json::Value>, prolly_client::Stats)> {
    let (diff, stats) = reader
        .read(&from, |db| {
            let other = ready!(db.at_through(*db.store(), to));
            db.diff(&other)
        })
        .await
        .map_err(plain)?;
    let mut lines = Vec::new();
    for (collection, changes) in diff
        .iter()
        .filter(|(c, _)| only.is_none_or(|o| o == c.as_str()))
    {
        let entry = |kind: &str, doc: &Ipld| serde_json::json!({"collection": collection, "change": kind, "doc": prolly_db::ipld_to_json(doc)});
        lines.extend(changes.added.iter().map(|d| entry("added", d)));
        lines.extend(changes.removed.iter().map(|d| entry("removed", d)));
        for (before, after) in &changes.changed {
            lines.push(serde_json::json!({
                "collection": collection, "change": "changed",
                "before": prolly_db::ipld_to_json(before), "doc": prolly_db::ipld_to_json(after),
            }));
        }
    }
    Ok((lines, stats))
}

async fn run_query<L: Local>(
    reader: &Reader<L>,
    root: &TrustedRoot,
    mut query: Query,
    proof: Option<&Path>,
    all: bool,
    json: bool,
) -> Result<()> {
    let mut total = 0;
    loop {
        let answer = reader.query(root, &query).await.map_err(plain)?;
        if let Some(path) = proof {
            // The query's blocks are all in the reader's store now: prove from them.
            let view = reader.local().view();
            let made = prolly_proofs::prove(&view, root.cid, &query).map_err(plain)?;
            let Outcome::Complete(made) = made else {
                return Err(Failure::new("the blocks of the proof are not all held"));
            };
            std::fs::write(path, &made.bytes).context(path.display())?;
        }
        output::documents(&answer.result.docs)?;
        total += answer.result.docs.len();
        let more = answer.result.cursor.clone();
        if !all || more.is_none() || proof.is_some() {
            let next = if more.is_some() { " (more: --all)" } else { "" };
            output::answer_stats(json, &format!("{total} document(s){next}"), &answer);
            return Ok(());
        }
        query.cursor = more;
    }
}

async fn stats<L: Local>(reader: &Reader<L>, root: &TrustedRoot, json: bool) -> Result<()> {
    let ((per_collection, tree), fetched) = reader
        .read(&root.cid, |db| {
            let collections = ready!(db.collections());
            let mut counts = Vec::new();
            for (name, _) in &collections {
                let mut q = Query::new(name.clone());
                q.count = true;
                q.budget = Some(prolly_db::limits::MAX_BUDGET);
                let result = ready!(db.query(&q));
                counts.push((name.clone(), result.count.unwrap_or_default()));
            }
            let tree = ready!(db.tree().stats().map_err(prolly_db::Error::from));
            Ok(Outcome::Complete((counts, tree)))
        })
        .await
        .map_err(plain)?;
    for (name, documents) in &per_collection {
        output::line(serde_json::json!({"collection": name, "documents": documents}));
    }
    output::line(serde_json::json!({
        "entries": tree.entries, "depth": tree.depth, "nodes": tree.nodes, "bytes": tree.bytes,
    }));
    output::read_stats(json, "stats", root, &Via::Blocks, &fetched);
    Ok(())
}
