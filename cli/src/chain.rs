//! `--actor ID`: a prollydb actor on a chain a Lotus node (or `prolly devnet`) serves. Reads
//! resolve the actor's database root (through the node's head, or proven from a state root the
//! user gives); `send` writes through messages the node signs; `follow` turns the actor's commit
//! events into document diffs. No FVM here: this is JSON-RPC.

use std::io::IsTerminal;
use std::time::Duration;

use cid::Cid;
use prolly_actor::{ConstructorParams, RootReturn, method};
use prolly_client::import::{self, Packer, Rows};
use prolly_client::source::LotusSource;
use prolly_client::source::lotus::Lookup;
use prolly_client::{Local, Origin, Reader, TrustedRoot};
use prolly_db::WriteBatch;

use crate::args::Send;
use crate::failure::{Context, Failure, Result, plain};
use crate::output;
use crate::reads;

const TIMEOUT: Duration = Duration::from_secs(30);
/// A message's params stay this far under Lotus's 64 KiB limit, which counts the whole signed
/// message (its other fields and a 66-byte signature take about 150 bytes).
pub const MAX_PARAMS_BYTES: usize = (64 << 10) - 1024;

/// A node and the actor on its chain.
pub struct ActorTarget {
    pub node: String,
    pub lotus: LotusSource,
    pub actor: u64,
}

impl ActorTarget {
    /// The node at `endpoint` (a URL, or `FULLNODE_API_INFO`'s `TOKEN:/ip4/…/http`).
    pub async fn connect(endpoint: &str, actor: u64) -> Result<ActorTarget> {
        let lotus = LotusSource::new(endpoint, TIMEOUT).map_err(plain)?;
        lotus.version().await.map_err(|e| {
            Failure::new(format!(
                "{}: not a Lotus JSON-RPC endpoint ({e})",
                lotus.url()
            ))
        })?;
        Ok(ActorTarget {
            node: lotus.url().trim_end_matches("/rpc/v1").to_string(),
            lotus,
            actor,
        })
    }

    /// The actor's database root: proven from `state_root` when one is given (the path from it
    /// is fetched and checked), otherwise as the node's head says.
    pub async fn root<L: Local>(
        &self,
        reader: &Reader<L>,
        state_root: Option<Cid>,
    ) -> Result<TrustedRoot> {
        match state_root {
            Some(state_root) => {
                let actor = self.actor;
                let (cid, _) = reader
                    .fetch_until(|view| {
                        let recorder = prolly_proofs::RecordingStore::new(view);
                        prolly_proofs::db_root(&recorder, &state_root, actor)
                            .map_err(prolly_proofs::ProveError::from)
                    })
                    .await
                    .map_err(plain)?;
                Ok(TrustedRoot {
                    cid,
                    origin: Origin::StateRoot { actor, state_root },
                })
            }
            None => {
                let at = self.lotus.actor_root(self.actor).await.map_err(|e| {
                    Failure::new(format!("actor f0{} on {}: {e}", self.actor, self.node))
                })?;
                Ok(TrustedRoot {
                    cid: at.db_root,
                    origin: Origin::Actor {
                        node: self.node.clone(),
                        actor: self.actor,
                        state_root: at.state_root,
                        height: at.height,
                    },
                })
            }
        }
    }

    /// Sends one message from the node's default address and waits for its receipt; a message
    /// the actor refused is a failure naming its exit code.
    pub async fn submit(&self, from: &str, method: u64, params: &[u8]) -> Result<Lookup> {
        let cid = self
            .lotus
            .push_message(from, self.actor, method, params)
            .await
            .map_err(|e| Failure::new(format!("{}: {e}", self.node)))?;
        let lookup = self
            .lotus
            .wait_message(&cid, 0)
            .await
            .map_err(|e| Failure::new(format!("{}: waiting for {cid}: {e}", self.node)))?;
        if lookup.receipt.exit_code != 0 {
            return Err(Failure::new(format!(
                "actor f0{} refused message {cid}: exit code {} ({})",
                self.actor,
                lookup.receipt.exit_code,
                exit_name(lookup.receipt.exit_code)
            )));
        }
        Ok(lookup)
    }

    pub async fn sender(&self) -> Result<String> {
        self.lotus.wallet_default_address().await.map_err(|e| {
            Failure::new(format!(
                "{}: the node's default address: {e} (a token with `write` and `sign` is needed: \
                 --remote \"$FULLNODE_API_INFO\")",
                self.node
            ))
        })
    }
}

/// The names of the exit codes the actor uses (spec/SPEC.md section 19).
pub fn exit_name(code: i64) -> &'static str {
    match code {
        0 => "OK",
        16 => "USR_ILLEGAL_ARGUMENT",
        17 => "USR_NOT_FOUND",
        18 => "USR_FORBIDDEN",
        20 => "USR_ILLEGAL_STATE",
        21 => "USR_SERIALIZATION",
        22 => "USR_UNHANDLED_MESSAGE",
        7 => "SYS_OUT_OF_GAS",
        _ => "see the actor's exit codes",
    }
}

fn root_of(lookup: &Lookup) -> Result<RootReturn> {
    fvm_ipld_encoding::from_slice(&lookup.receipt.return_data)
        .map_err(|e| Failure::new(format!("the actor's return value: {e}")))
}

/// `send deploy | apply | import`.
pub async fn send(target: &ActorTarget, what: &Send, json: bool) -> Result<()> {
    let from = target.sender().await?;
    match what {
        Send::Deploy { writer } => {
            let owner = target.lotus.state_lookup_id(&from).await.map_err(plain)?;
            let writers = writer
                .iter()
                .map(|w| parse_address(w))
                .collect::<Result<Vec<_>>>()?;
            let params = ConstructorParams {
                owner: fvm_shared::address::Address::new_id(owner),
                writers,
                config: None,
            };
            let params = fvm_ipld_encoding::to_vec(&params).map_err(plain)?;
            let lookup = target.submit(&from, method::CONSTRUCTOR, &params).await?;
            eprintln!(
                "actor f0{} constructed, owned by f0{owner} ({from}); gas {}, height {}",
                target.actor, lookup.receipt.gas_used, lookup.height
            );
            Ok(())
        }
        Send::Apply { batch } => {
            let text = std::fs::read_to_string(batch).context(batch.display())?;
            let ops = WriteBatch::from_json(&text).context(batch.display())?;
            let lookup = target.submit(&from, method::APPLY, &ops.to_cbor()).await?;
            let ret = root_of(&lookup)?;
            output::line(ret.root);
            eprintln!(
                "commit {} of actor f0{}: {} op(s), gas {}, height {}",
                ret.seq,
                target.actor,
                ops.ops.len(),
                lookup.receipt.gas_used,
                lookup.height
            );
            Ok(())
        }
        Send::Import {
            collection,
            file,
            id,
            mode,
            types,
            format,
        } => {
            let rows = crate::local::open_rows(file, types.as_deref(), *format)?;
            let mode = mode.import();
            let sent = import_through(target, &from, collection, rows, id.as_deref(), mode).await?;
            output::line(sent.root);
            sent.report(json, target.actor);
            Ok(())
        }
    }
}

fn parse_address(text: &str) -> Result<fvm_shared::address::Address> {
    use fvm_shared::address::Network;
    let network = if text.starts_with('t') {
        Network::Testnet
    } else {
        Network::Mainnet
    };
    network
        .parse_address(text)
        .map_err(|e| Failure::usage(format!("{text:?} is not an address: {e}")))
}

/// What an import through messages did.
pub struct Sent {
    pub root: Cid,
    pub documents: u64,
    pub messages: u64,
    pub gas: u64,
    pub bytes: u64,
    pub seconds: f64,
}

impl Sent {
    pub fn gas_per_document(&self) -> u64 {
        self.gas / self.documents.max(1)
    }

    fn report(&self, json: bool, actor: u64) {
        if json {
            eprintln!(
                "{}",
                serde_json::json!({"documents": self.documents, "messages": self.messages,
                    "gas": self.gas, "gas_per_document": self.gas_per_document(),
                    "params_bytes": self.bytes, "seconds": self.seconds, "root": self.root.to_string()})
            );
        } else {
            eprintln!(
                "wrote {} document(s) through {} message(s) to actor f0{actor} in {:.1} s: gas {} ({} per document)",
                self.documents,
                self.messages,
                self.seconds,
                self.gas,
                self.gas_per_document()
            );
        }
    }
}

/// Writes `rows` into `collection` through messages, each batch under the size limit, with a
/// progress bar on a terminal. A refused message stops the import: the commits before it stand
/// (each message is one commit), and the error names the file rows it held.
pub async fn import_through(
    target: &ActorTarget,
    from: &str,
    collection: &str,
    rows: Rows,
    id_field: Option<&str>,
    mode: import::WriteMode,
) -> Result<Sent> {
    let file = rows.name().to_string();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = match rows.size() {
            Some(size) => indicatif::ProgressBar::new(size),
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes}, ETA {eta}: {msg}",
            )
            .expect("a valid template"),
        );
        bar
    });
    let read = rows.bytes_read();
    let started = std::time::Instant::now();
    let mut packer = Packer::new(collection, mode, MAX_PARAMS_BYTES);
    let mut sent = Sent {
        root: Cid::default(),
        documents: 0,
        messages: 0,
        gas: 0,
        bytes: 0,
        seconds: 0.0,
    };
    let mut rows = rows.peekable();
    loop {
        let packed = match rows.next() {
            Some(row) => {
                let row = row.map_err(plain)?;
                let number = row.number;
                let doc = import::with_id(row, id_field, &file).map_err(plain)?;
                packer.push(&file, number, doc).map_err(plain)?
            }
            None => packer.take(),
        };
        if let Some(packed) = packed {
            let params = packed.batch.to_cbor();
            let (first, last) = (packed.rows[0], packed.rows[packed.rows.len() - 1]);
            let lookup = target
                .submit(from, method::APPLY, &params)
                .await
                .map_err(|f| Failure::new(format!("{file}: rows {first}-{last}: {}", f.message)))?;
            sent.root = root_of(&lookup)?.root;
            sent.documents += packed.rows.len() as u64;
            sent.messages += 1;
            sent.gas += lookup.receipt.gas_used.max(0) as u64;
            sent.bytes += params.len() as u64;
            if let Some(bar) = &bar {
                bar.set_position(read.load(std::sync::atomic::Ordering::Relaxed));
                bar.set_message(format!(
                    "{} documents in {} messages, gas {} per document",
                    sent.documents,
                    sent.messages,
                    sent.gas_per_document()
                ));
            }
        }
        if rows.peek().is_none() && packer.is_empty() {
            break;
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if sent.messages == 0 {
        return Err(Failure::new(format!("{file}: no documents")));
    }
    sent.seconds = started.elapsed().as_secs_f64();
    Ok(sent)
}

/// `follow`: polls the actor's events; each commit's root is diffed against the one before
/// (fetched sparsely: the diff skips every subtree the two roots share).
pub async fn follow<L: Local>(
    target: &ActorTarget,
    reader: &Reader<L>,
    collection: Option<&str>,
    from_root: Option<Cid>,
    since: Option<i64>,
    limit: Option<u64>,
    interval: Duration,
) -> Result<()> {
    // The root and the height it was read at come from one head, so that no commit falls
    // between them (it would be diffed backwards).
    let (mut previous, mut height) = match from_root {
        Some(root) => (root, target.lotus.chain_head().await.map_err(plain)?.height),
        None => {
            let at = target.lotus.actor_root(target.actor).await.map_err(plain)?;
            (at.db_root, at.height)
        }
    };
    if let Some(since) = since {
        height = since;
    }
    // The root read is the head's parent state: commits included from the head on are new.
    // A tipset's events are served once the next tipset carries its receipts.
    let mut next_height = height;
    let mut seen = 0u64;
    eprintln!(
        "following actor f0{} on {} from root {previous} (height {height})",
        target.actor, target.node
    );
    loop {
        let latest = target.lotus.chain_head().await.map_err(plain)?.height - 1;
        if latest < next_height {
            tokio::time::sleep(interval).await;
            continue;
        }
        let to = latest.min(next_height + 2000);
        let events = target
            .lotus
            .actor_events(target.actor, next_height, Some(to))
            .await
            .map_err(plain)?;
        next_height = to + 1;
        for event in &events {
            let Some(value) = event.value(prolly_actor::types::EVENT_ROOT) else {
                continue;
            };
            let root: Cid = fvm_ipld_encoding::from_slice(value)
                .map_err(|e| Failure::new(format!("an event's root: {e}")))?;
            if root == previous {
                continue;
            }
            let (lines, stats) = reads::diff_lines(reader, previous, root, collection).await?;
            for line in &lines {
                output::line(line);
            }
            eprintln!(
                "commit at height {}: root {root}, {} change(s); {} block(s), {} bytes fetched",
                event.height,
                lines.len(),
                stats.blocks,
                stats.bytes
            );
            previous = root;
            seen += 1;
            if limit.is_some_and(|l| seen >= l) {
                return Ok(());
            }
        }
        if to == latest {
            tokio::time::sleep(interval).await;
        }
    }
}

/// `query --anchored`: the result proven from a state root (the one given, or the node's head's)
/// and verified before it is printed.
pub async fn query_anchored<L: Local>(
    target: &ActorTarget,
    reader: &Reader<L>,
    state_root: Option<Cid>,
    query: &prolly_db::Query,
    proof: Option<&std::path::Path>,
    json: bool,
) -> Result<()> {
    let (state_root, origin, source) = match state_root {
        Some(state_root) => (
            state_root,
            Origin::StateRoot {
                actor: target.actor,
                state_root,
            },
            "given: trusted".to_string(),
        ),
        None => {
            let at = target.lotus.actor_root(target.actor).await.map_err(plain)?;
            let source = format!(
                "the head of {} at height {}, not independently checked",
                target.node, at.height
            );
            let origin = Origin::Actor {
                node: target.node.clone(),
                actor: target.actor,
                state_root: at.state_root,
                height: at.height,
            };
            (at.state_root, origin, source)
        }
    };
    let (answer, bytes) = reader
        .query_anchored(state_root, target.actor, query, origin)
        .await
        .map_err(plain)?;
    if let Some(path) = proof {
        std::fs::write(path, &bytes).context(path.display())?;
    }
    match answer.result.count {
        Some(count) if answer.result.docs.is_empty() => output::line(count),
        _ => output::documents(&answer.result.docs)?,
    }
    let what = match (answer.result.count, &answer.result.cursor) {
        (Some(n), _) => format!("count {n}"),
        (None, Some(_)) => format!(
            "{} document(s), the first page (a proof covers one page: query the next with its cursor)",
            answer.result.docs.len()
        ),
        (None, None) => format!("{} document(s)", answer.result.docs.len()),
    };
    if json {
        eprintln!(
            "{}",
            serde_json::json!({"result": what, "verified_against_state_root": state_root.to_string(),
                "state_root_source": source, "actor": target.actor, "root": answer.root.cid.to_string(),
                "round_trips": answer.stats.rounds, "blocks_fetched": answer.stats.blocks,
                "bytes_fetched": answer.stats.bytes, "proof_bytes": bytes.len()})
        );
    } else {
        eprintln!(
            "{what}; verified against state root {state_root} ({source}): actor f0{}, database root {}; {} round trip(s), {} block(s), {} bytes fetched; proof {} bytes",
            target.actor,
            answer.root.cid,
            answer.stats.rounds,
            answer.stats.blocks,
            answer.stats.bytes,
            bytes.len()
        );
    }
    Ok(())
}
