//! `--db DIR`: a local database in the redb store (database mode); its `HEAD` is the current root.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use cid::Cid;
use prolly_client::import::{self, Format, ImportOptions, Rows};
use prolly_client::server::{ServerConfig, serve};
use prolly_client::source::CarSource;
use prolly_client::store::{HEAD, Store};
use prolly_client::{Origin, Reader, TrustedRoot};
use prolly_db::{Database, IndexDef, IndexField, Order, Path as DocPath, WriteBatch};
use prolly_proofs::{Envelope, Subject};
use prolly_tree::Config;

use crate::args::{Cli, Command, FileFormat, Side};
use crate::failure::{Context, Failure, Result, plain};
use crate::output;
use crate::reads::{self, parse_cid};

pub async fn run(dir: &Path, cli: &Cli) -> Result<()> {
    let store = Store::open_database(dir).map_err(plain)?;
    match &cli.command {
        Command::Import {
            collection,
            file,
            id,
            mode,
            batch,
            resume,
            types,
            format,
        } => {
            let rows = open_rows(file, types.as_deref(), *format)?;
            let options = ImportOptions {
                collection: collection.clone(),
                id_field: id.clone(),
                mode: mode.import(),
                batch: *batch,
                resume: *resume,
            };
            import_file(&store, rows, &options, cli.json)
        }
        Command::Apply { batch } => {
            let text = std::fs::read_to_string(batch).context(batch.display())?;
            let batch_ops = WriteBatch::from_json(&text).context(format!("{}", batch.display()))?;
            write(&store, &batch_ops)
        }
        Command::Index {
            collection,
            name,
            fields,
            unique,
            include,
        } => {
            let fields = fields
                .split(',')
                .map(|f| {
                    let (path, order) = match f.rsplit_once(':') {
                        Some((path, "desc")) => (path, Order::Descending),
                        Some((path, "asc")) => (path, Order::Ascending),
                        _ => (f, Order::Ascending),
                    };
                    IndexField::parse(path, order).map_err(plain)
                })
                .collect::<Result<Vec<_>>>()?;
            let include = include
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| DocPath::parse(p).map_err(plain))
                .collect::<Result<Vec<_>>>()?;
            let mut batch = WriteBatch::new();
            batch.create_index(
                collection,
                IndexDef {
                    name: name.clone(),
                    fields,
                    unique: *unique,
                    include,
                },
            );
            write(&store, &batch)
        }
        Command::Serve { listen } => serve_store(store, listen).await,
        Command::Export { out } => {
            let root = read_root(&store, cli)?;
            let car = prolly_client::source::export_car(&store, &root.cid).map_err(plain)?;
            std::fs::write(out, &car).context(out.display())?;
            output::line(root.cid);
            eprintln!(
                "exported {} bytes of {root} to {}",
                car.len(),
                out.display()
            );
            Ok(())
        }
        Command::ImportCar { car } => import_car(&store, car),
        Command::Merge {
            ours,
            theirs,
            base,
            prefer,
        } => merge(&store, ours, theirs, base, *prefer),
        Command::Pin { name, root } => {
            let root = match root {
                Some(text) => parse_cid(text)?,
                None => head(&store)?,
            };
            if !store.has_block(&root).map_err(plain)? {
                return Err(Failure::new(format!("{root} is not in this database")));
            }
            let writer = store.write().map_err(plain)?;
            writer.set_root(name, &root).map_err(plain)?;
            writer.commit().map_err(plain)?;
            output::line(root);
            Ok(())
        }
        Command::Unpin { name } => {
            if name == HEAD {
                return Err(Failure::usage("HEAD is not a pin"));
            }
            let writer = store.write().map_err(plain)?;
            if !writer.remove_root(name).map_err(plain)? {
                return Err(Failure::new(format!("no root is pinned as {name:?}")));
            }
            writer.commit().map_err(plain)
        }
        Command::Gc => {
            let report = store.gc().map_err(plain)?;
            store.compact().map_err(plain)?;
            eprintln!(
                "removed {} block(s), {} bytes; kept {} block(s), {} bytes",
                report.removed_blocks, report.removed_bytes, report.kept_blocks, report.kept_bytes
            );
            Ok(())
        }
        _ => {
            let root = read_root(&store, cli)?;
            let reader = Reader::new(store.clone());
            reads::run(&reader, &root, cli).await
        }
    }
}

fn head(store: &Store) -> Result<Cid> {
    store.head().map_err(plain)?.ok_or_else(|| {
        Failure::new(format!(
            "{}: no database yet (import or apply first)",
            store.dir().display()
        ))
    })
}

/// The root a read uses: `--root`, or `HEAD`.
fn read_root(store: &Store, cli: &Cli) -> Result<TrustedRoot> {
    Ok(match &cli.root {
        Some(text) => TrustedRoot::given(parse_cid(text)?),
        None => TrustedRoot {
            cid: head(store)?,
            origin: Origin::LocalHead,
        },
    })
}

/// Applies a batch to `HEAD` (a new database if there is none) and moves `HEAD`, in one
/// transaction; prints the new root.
fn write(store: &Store, batch: &WriteBatch) -> Result<()> {
    let writer = store.write().map_err(plain)?;
    let mut db = match writer.root(HEAD).map_err(plain)? {
        Some(root) => Database::open(&writer, root)
            .map_err(plain)?
            .into_result()
            .map_err(plain)?,
        None => Database::create(&writer, Config::default()).map_err(plain)?,
    };
    let root = db
        .apply(batch)
        .map_err(plain)?
        .into_result()
        .map_err(plain)?;
    drop(db);
    writer.set_root(HEAD, &root).map_err(plain)?;
    writer.commit().map_err(plain)?;
    output::line(root);
    Ok(())
}

/// The rows of `file` as `import` and `send import` read them (`--types`, `--format`).
pub fn open_rows(file: &str, types: Option<&str>, format: Option<FileFormat>) -> Result<Rows> {
    let types = import::parse_types(types.unwrap_or_default())
        .map_err(|e| Failure::usage(format!("--types: {e}")))?;
    let format = format.map(|f| match f {
        FileFormat::Ndjson => Format::Ndjson,
        FileFormat::Json => Format::Json,
        FileFormat::Csv => Format::Csv,
    });
    Rows::open(file, format, types).map_err(plain)
}

fn import_file(store: &Store, rows: Rows, options: &ImportOptions, json: bool) -> Result<()> {
    let file = rows.name().to_string();
    // On a terminal: bytes of the file against its size (so an ETA), and documents per second.
    let size = rows.size();
    let bar = std::io::stderr().is_terminal().then(|| {
        let (bar, template) = match size {
            Some(size) => (
                indicatif::ProgressBar::new(size),
                "{bar:30} {bytes}/{total_bytes} ({binary_bytes_per_sec}), ETA {eta}: {msg}",
            ),
            None => (
                indicatif::ProgressBar::new_spinner(),
                "{spinner} {bytes} read, {elapsed}: {msg}",
            ),
        };
        bar.set_style(indicatif::ProgressStyle::with_template(template).expect("a valid template"));
        bar
    });
    let started = std::time::Instant::now();
    let result = import::import(store, rows, options, Config::default(), |summary| {
        if let Some(bar) = &bar {
            bar.set_position(summary.bytes);
            let rate = summary.documents as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{} documents ({rate:.0}/s), row {}",
                summary.documents, summary.rows
            ));
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            // Say where the database stands: at its last commit.
            let at = store
                .head()
                .ok()
                .flatten()
                .map(|root| {
                    format!("; the database is at its last commit, {root} (--resume continues)")
                })
                .unwrap_or_default();
            return Err(Failure::new(format!("{e}{at}")));
        }
    };
    output::line(summary.root);
    let secs = started.elapsed().as_secs_f64();
    if json {
        eprintln!(
            "{}",
            serde_json::json!({"file": file, "documents": summary.documents, "rows": summary.rows,
                "skipped": summary.skipped, "commits": summary.commits, "seconds": secs,
                "root": summary.root.to_string()})
        );
    } else {
        eprintln!(
            "imported {} document(s) from {file} in {} commit(s), {:.1} s ({:.0}/s){}",
            summary.documents,
            summary.commits,
            secs,
            summary.documents as f64 / secs.max(1e-9),
            if summary.skipped > 0 {
                format!("; {} row(s) skipped as already imported", summary.skipped)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn merge(store: &Store, ours: &str, theirs: &str, base: &str, prefer: Option<Side>) -> Result<()> {
    let (ours, theirs) = (parse_cid(ours)?, parse_cid(theirs)?);
    let writer = store.write().map_err(plain)?;
    let open = |root: Cid| -> Result<Database<&prolly_client::Writer>> {
        Database::open(&writer, root)
            .map_err(plain)?
            .into_result()
            .map_err(|_| Failure::new(format!("{root} is not (wholly) in this database")))
    };
    let mut db = open(ours)?;
    let their_db = open(theirs)?;
    let base_db = match base {
        "empty" => Database::create(&writer, *db.tree().config()).map_err(plain)?,
        root => open(parse_cid(root)?)?,
    };
    let prefer = prefer.map(|side| match side {
        Side::Ours => prolly_db::Prefer::Ours,
        Side::Theirs => prolly_db::Prefer::Theirs,
    });
    let merged = db
        .merge_batch(&base_db, &their_db, prefer)
        .map_err(plain)?
        .into_result()
        .map_err(plain)?;
    let batch = match merged {
        prolly_db::Merged::Batch(batch) => batch,
        prolly_db::Merged::Conflicts(conflicts) => {
            for c in &conflicts {
                eprintln!("conflict: {c}");
            }
            return Err(Failure::new(format!(
                "{} conflict(s); nothing merged (--prefer ours|theirs settles them)",
                conflicts.len()
            )));
        }
    };
    let root = match db.apply(&batch) {
        Ok(outcome) => outcome.into_result().map_err(plain)?,
        Err(e) => {
            return Err(Failure::new(format!(
                "conflict: the merged documents: {e}; nothing merged"
            )));
        }
    };
    drop((db, their_db, base_db));
    writer.set_root(HEAD, &root).map_err(plain)?;
    writer.commit().map_err(plain)?;
    output::line(root);
    Ok(())
}

fn import_car(store: &Store, path: &Path) -> Result<()> {
    let car = CarSource::open(path).map_err(plain)?;
    let Some(root) = car.roots().first().copied() else {
        return Err(Failure::new(format!(
            "{}: the CAR names no root",
            path.display()
        )));
    };
    let writer = store.write().map_err(plain)?;
    prolly_client::dag::walk(
        [root],
        |cid| fvm_ipld_blockstore::Blockstore::get(car.store(), cid),
        |cid, bytes| {
            // read_any hash-checks only blake2b CIDv1 sections: check every block here.
            prolly_client::block::check(cid, bytes)
                .map_err(|e| anyhow::anyhow!("block {cid}: {e}"))?;
            Ok(writer.put_block(cid, bytes)?)
        },
    )
    .context(path.display())?;
    // Only a whole database moves HEAD.
    Database::open(&writer, root)
        .context(path.display())?
        .into_result()
        .context(format!("{}: the database is incomplete", path.display()))?;
    prolly_tree::check_invariants(&writer, &root).context(format!(
        "{}: the database is incomplete or damaged",
        path.display()
    ))?;
    writer.set_root(HEAD, &root).map_err(plain)?;
    writer.commit().map_err(plain)?;
    output::line(root);
    Ok(())
}

async fn serve_store(store: Store, listen: &str) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .context(format!("listening on {listen}"))?;
    let addr = listener.local_addr().context("the listener")?;
    let head = store
        .head()
        .map_err(plain)?
        .map(|h| format!(" (HEAD {h})"))
        .unwrap_or_default();
    eprintln!(
        "serving {}{head} on http://{addr}: /ipfs/{{cid}}, POST /prollydb/v1/query, /rpc/v1",
        store.dir().display()
    );
    tokio::select! {
        served = serve(listener, Arc::new(store), ServerConfig::default()) => served.context("serving"),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// `prolly verify`: exits 0 and prints the proven result only when the proof verifies against the
/// trusted root (or state root and actor).
pub fn verify(
    path: &Path,
    root: Option<&str>,
    state_root: Option<&str>,
    actor: Option<u64>,
) -> Result<()> {
    let proof = std::fs::read(path).context(path.display())?;
    let envelope = Envelope::from_proof(&proof)
        .map_err(|e| Failure::unverified(format!("{}: {e}", path.display())))?;
    let query = prolly_db::Query::from_cbor(&envelope.query)
        .map_err(|e| Failure::unverified(format!("{}: the query: {e}", path.display())))?;
    let result = prolly_db::QueryResult::from_cbor(&envelope.result)
        .map_err(|e| Failure::unverified(format!("{}: the result: {e}", path.display())))?;
    let unverified = |e: prolly_proofs::VerifyError| {
        Failure::unverified(format!("{}: does not verify: {e}", path.display()))
    };
    let trust = match (root, state_root, actor) {
        (Some(root), None, None) => {
            let root = parse_cid(root)?;
            prolly_proofs::verify(&root, &query, &result, &proof).map_err(unverified)?;
            format!("root {root} (given)")
        }
        (None, Some(state), Some(actor)) => {
            let state = parse_cid(state)?;
            prolly_proofs::verify_anchored(&state, actor, &query, &result, &proof)
                .map_err(unverified)?;
            format!("actor f0{actor} at state root {state} (given)")
        }
        (None, None, None) => {
            match envelope.subject {
                Subject::Root(root) => {
                    prolly_proofs::verify(&root, &query, &result, &proof).map_err(unverified)?
                }
                Subject::Anchored { state, actor } => {
                    prolly_proofs::verify_anchored(&state, actor, &query, &result, &proof)
                        .map_err(unverified)?
                }
                _ => {
                    return Err(Failure::new(format!(
                        "{}: not a query proof",
                        path.display()
                    )));
                }
            }
            "self-consistent only: no trusted root given".to_string()
        }
        _ => {
            return Err(Failure::usage(
                "give --root CID, or --state-root CID with --actor ID",
            ));
        }
    };
    // The result is data only when it is proven against a root the user trusts.
    if !trust.starts_with("self-consistent") {
        match result.count {
            Some(count) => output::line(count),
            None => output::documents(&result.docs)?,
        }
    }
    eprintln!(
        "verified: {} for {} in {}; {trust}",
        match result.count {
            Some(n) => format!("count {n}"),
            None => format!("{} document(s)", result.docs.len()),
        },
        query.to_json(),
        path.display()
    );
    Ok(())
}
