//! The pieces of the gas bench: commit documents in two key orders, a local FVM holding three
//! actors prepared with the same documents (prollydb without and with a secondary index, and the
//! HAMT baseline), and what one message cost, read from the FVM's own gas trace.

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use cid::Cid;
use fvm::executor::ApplyRet;
use fvm::trace::ExecutionEvent;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use fvm_ipld_encoding::{CborStore, RawBytes};
use fvm_ipld_hamt::{BytesKey, Hamt};
use fvm_shared::ActorID;
use fvm_shared::address::Address;
use fvm_shared::error::ExitCode;
use ipld_core::ipld::Ipld;
use multihash_codetable::{Code, MultihashDigest};
use prolly_db::{Database, IndexDef, WriteBatch};
use prolly_tree::Config;
use prollydb::local_fvm::{GAS_LIMIT, Install, LocalFvm};

pub const COLLECTION: &str = "commits";
/// The one secondary index of the indexed actor.
pub const INDEX: &str = "by_author_time";

/// Where each actor is installed.
pub const PROLLY: ActorID = 10_000;
pub const PROLLY_INDEXED: ActorID = 10_001;
pub const HAMT: ActorID = 10_002;

/// The sender: the owner of the prollydb actors.
const OWNER: usize = 0;

/// Gas per byte of the physical floor (fvm 4.8.4's price list).
pub const MESSAGE_GAS_PER_BYTE: u64 = 1_300;
pub const STORAGE_GAS_PER_BYTE: u64 = 3_340;

/// One commit of the feed.
#[derive(Debug, Clone)]
pub struct Commit {
    pub hash: String,
    /// Unix seconds, UTC.
    pub time: i64,
    pub author: String,
    pub tags: Vec<String>,
    pub subject: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    /// `_id` is the commit hash: each write lands somewhere random in the tree.
    Random,
    /// `_id` is (UTC time, hash): each write lands at the end.
    Append,
}

impl KeyOrder {
    pub fn name(self) -> &'static str {
        match self {
            KeyOrder::Random => "random",
            KeyOrder::Append => "append",
        }
    }
}

impl Commit {
    pub fn id(&self, order: KeyOrder) -> String {
        match order {
            KeyOrder::Random => self.hash.clone(),
            // Zero-padded seconds: string order is time order.
            KeyOrder::Append => format!("{:011}.{}", self.time, self.hash),
        }
    }

    /// The document without `_id`: what both actors store under the key.
    pub fn body(&self) -> Ipld {
        Ipld::Map(BTreeMap::from([
            ("author".into(), Ipld::String(self.author.clone())),
            ("time".into(), Ipld::Integer(self.time.into())),
            (
                "tags".into(),
                Ipld::List(self.tags.iter().cloned().map(Ipld::String).collect()),
            ),
            ("subject".into(), Ipld::String(self.subject.clone())),
        ]))
    }

    pub fn document(&self, order: KeyOrder) -> Ipld {
        let Ipld::Map(mut map) = self.body() else {
            unreachable!("a body is a map")
        };
        map.insert("_id".into(), Ipld::String(self.id(order)));
        Ipld::Map(map)
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    let digest = Code::Blake2b256.digest(bytes);
    digest.digest()[..20]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `n` commits: the kubo feed (12,308 commits) extended by renamed copies past its end (each
/// round gets new hashes and a later time span), or generated commits of the same shape when
/// the data set is absent. Returns the commits and where they came from.
pub fn commits(n: usize) -> (Vec<Commit>, &'static str) {
    let (base, source) = match kubo() {
        Some(base) if !base.is_empty() => (base, "kubo-commits"),
        _ => (generated(n.min(12_308)), "generated"),
    };
    let first = base.iter().map(|c| c.time).min().unwrap_or(0);
    let last = base.iter().map(|c| c.time).max().unwrap_or(0);
    let span = last - first + 1;
    let commits = (0..n)
        .map(|i| {
            let round = i / base.len();
            let c = &base[i % base.len()];
            if round == 0 {
                return c.clone();
            }
            Commit {
                hash: hex_digest(format!("{}/{round}", c.hash).as_bytes()),
                time: c.time + span * round as i64,
                ..c.clone()
            }
        })
        .collect();
    (commits, source)
}

fn kubo() -> Option<Vec<Commit>> {
    let docs = prolly_db::testing::kubo_commits(usize::MAX)?;
    let text = |doc: &Ipld, field: &str| match doc.get(field) {
        Ok(Some(Ipld::String(s))) => Some(s.clone()),
        _ => None,
    };
    docs.iter()
        .map(|doc| {
            let time = match doc.get("time") {
                Ok(Some(Ipld::Integer(t))) => i64::try_from(*t).ok()?,
                _ => return None,
            };
            let tags = match doc.get("tags") {
                Ok(Some(Ipld::List(tags))) => tags
                    .iter()
                    .filter_map(|t| match t {
                        Ipld::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Some(Commit {
                hash: text(doc, "_id")?,
                time,
                author: text(doc, "author")?,
                tags,
                subject: text(doc, "subject")?,
            })
        })
        .collect()
}

/// Commits shaped like the feed: 40-hex hashes, a few dozen authors (some far busier than
/// others), hourly-ish times, conventional-commit tags, subjects of 30–70 characters.
fn generated(n: usize) -> Vec<Commit> {
    const TYPES: [&str; 6] = ["fix", "feat", "chore", "docs", "refactor", "test"];
    const SCOPES: [&str; 5] = ["deps", "ci", "gateway", "routing", "cli"];
    (0..n)
        .map(|i| {
            let h = Code::Blake2b256.digest(&(i as u64).to_be_bytes());
            let r = h.digest();
            let author = (r[0] as usize * r[1] as usize) % 40;
            let subject_len = 30 + r[2] as usize % 40;
            let mut subject = format!("{}: change number {i} ", TYPES[r[3] as usize % 6]);
            while subject.len() < subject_len {
                subject.push_str("and more ");
            }
            subject.truncate(subject_len);
            Commit {
                hash: hex_digest(&h.to_bytes()),
                time: 1_400_000_000 + i as i64 * 3_000 + r[4] as i64 * 10,
                author: format!("author-{author:02}"),
                tags: vec![
                    TYPES[r[3] as usize % 6].into(),
                    SCOPES[r[5] as usize % 5].into(),
                ],
                subject,
            }
        })
        .collect()
}

/// Puts commits in the order their keys will be written: file order for random keys (hashes
/// are uniformly spread anyway), time order for append keys.
pub fn in_key_order(mut commits: Vec<Commit>, order: KeyOrder) -> Vec<Commit> {
    if order == KeyOrder::Append {
        commits.sort_by(|a, b| (a.time, &a.hash).cmp(&(b.time, &b.hash)));
    }
    commits
}

pub fn index_def() -> IndexDef {
    let spec = format!(r#"{{"name": "{INDEX}", "fields": ["author", "time"]}}"#);
    IndexDef::from_ipld(&prolly_db::parse_json(&spec).expect("JSON")).expect("a valid index")
}

/// A batch inserting `commits` (and first the schema, if `schema`).
pub fn prolly_batch(commits: &[Commit], order: KeyOrder, schema: Option<bool>) -> WriteBatch {
    let mut batch = WriteBatch::new();
    if let Some(indexed) = schema {
        batch.create_collection(COLLECTION);
        if indexed {
            batch.create_index(COLLECTION, index_def());
        }
    }
    for c in commits {
        batch.insert(COLLECTION, c.document(order));
    }
    batch
}

/// The baseline's `Put` params for `commits`.
pub fn hamt_params(commits: &[Commit], order: KeyOrder) -> hamt_baseline_actor::PutParams {
    hamt_baseline_actor::PutParams {
        documents: commits
            .iter()
            .map(|c| {
                let body = fvm_ipld_encoding::to_vec(&c.body()).expect("a body encodes");
                (RawBytes::new(c.id(order).into_bytes()), RawBytes::new(body))
            })
            .collect(),
    }
}

fn prolly_state(
    store: &MemoryBlockstore,
    owner: Address,
    prefill: &[Commit],
    order: KeyOrder,
    indexed: bool,
    config: Config,
) -> Result<Cid> {
    let mut db = Database::create(store, config)?;
    let batch = prolly_batch(prefill, order, Some(indexed));
    let root = db.apply(&batch)?.expect_complete();
    let state = prolly_actor::State {
        owner,
        writers: vec![],
        db_root: root,
        seq: 1,
    };
    store.put_cbor(&state, Code::Blake2b256)
}

fn hamt_state(store: &MemoryBlockstore, prefill: &[Commit], order: KeyOrder) -> Result<Cid> {
    let mut documents: Hamt<&MemoryBlockstore, RawBytes, BytesKey> =
        Hamt::new_with_bit_width(store, hamt_baseline_actor::BIT_WIDTH);
    for (key, body) in hamt_params(prefill, order).documents {
        documents.set(BytesKey(key.into()), body)?;
    }
    let state = hamt_baseline_actor::State {
        documents: documents.flush()?,
        count: prefill.len() as u64,
    };
    store.put_cbor(&state, Code::Blake2b256)
}

/// A machine with the three actors, each already holding `prefill` (built off-chain in the
/// machine's store: the same state the actors would have built, message by message).
/// The prollydb actor's Wasm: the one this build embeds, or the file `PROLLYDB_ACTOR_WASM` names,
/// to compare the gas of two builds of the actor on the same documents (build the other one with
/// `cargo build -p prolly_actor --features actor --target wasm32-unknown-unknown --profile wasm`).
fn actor_wasm() -> Result<&'static [u8]> {
    static OTHER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let Some(path) = std::env::var_os("PROLLYDB_ACTOR_WASM") else {
        return Ok(prollydb::ACTOR_WASM);
    };
    if OTHER.get().is_none() {
        let bytes = std::fs::read(&path).with_context(|| format!("{path:?}"))?;
        let _ = OTHER.set(bytes);
    }
    Ok(OTHER.get().expect("just set"))
}

pub fn machine(prefill: &[Commit], order: KeyOrder, config: Config) -> Result<LocalFvm> {
    let wasm = actor_wasm()?;
    LocalFvm::with_actors(|store, accounts| {
        let owner = accounts[OWNER];
        Ok(vec![
            Install {
                id: PROLLY,
                wasm,
                head: Some(prolly_state(store, owner, prefill, order, false, config)?),
            },
            Install {
                id: PROLLY_INDEXED,
                wasm,
                head: Some(prolly_state(store, owner, prefill, order, true, config)?),
            },
            Install {
                id: HAMT,
                wasm: prollydb::BASELINE_WASM,
                head: Some(hamt_state(store, prefill, order)?),
            },
        ])
    })
}

/// What one message cost.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    pub gas: u64,
    pub message_bytes: u64,
    pub blocks_written: u64,
    pub bytes_written: u64,
    pub blocks_read: u64,
    /// Gas by charge name (OnBlockLink, wasm_exec, ...).
    pub by_charge: BTreeMap<String, u64>,
}

impl Cost {
    pub fn add(&mut self, other: &Cost) {
        self.gas += other.gas;
        self.message_bytes += other.message_bytes;
        self.blocks_written += other.blocks_written;
        self.bytes_written += other.bytes_written;
        self.blocks_read += other.blocks_read;
        for (name, gas) in &other.by_charge {
            *self.by_charge.entry(name.clone()).or_default() += gas;
        }
    }
}

/// Sends one message and reads its cost from the trace. A refusal is an error: the bench
/// measures only work that was done.
pub fn send(
    fvm: &mut LocalFvm,
    to: ActorID,
    method: u64,
    params: Vec<u8>,
) -> Result<(Cost, ApplyRet)> {
    let message = fvm.message(OWNER, to, method, params, GAS_LIMIT);
    let message_bytes = fvm_ipld_encoding::to_vec(&message)?.len() as u64;
    let ret = fvm.execute(message)?;
    ensure!(
        ret.msg_receipt.exit_code == ExitCode::OK,
        "actor {to} method {method}: exit {} {:?}",
        ret.msg_receipt.exit_code,
        ret.failure_info
    );
    let mut cost = Cost {
        gas: ret.msg_receipt.gas_used,
        message_bytes,
        ..Cost::default()
    };
    for event in &ret.exec_trace {
        let ExecutionEvent::GasCharge(charge) = event else {
            continue;
        };
        let total = charge.total().round_up();
        *cost.by_charge.entry(charge.name.to_string()).or_default() += total;
        match &*charge.name {
            // Storage is 334,000 + 3,340 per byte, plus 172,000 deferred compute, all "other".
            "OnBlockLink" => {
                cost.blocks_written += 1;
                cost.bytes_written +=
                    (charge.other_gas.round_up().saturating_sub(506_000)) / STORAGE_GAS_PER_BYTE;
            }
            "OnBlockOpenBase" => cost.blocks_read += 1,
            _ => {}
        }
    }
    Ok((cost, ret))
}

/// The bytes a commit added to the database: the key and value of every new or changed tree
/// entry (documents and index entries), read from the tree diff of the two roots.
pub fn entry_bytes(store: &impl Blockstore, before: Cid, after: Cid) -> Result<u64> {
    let old = Database::open(store, before)?.expect_complete();
    let new = Database::open(store, after)?.expect_complete();
    let changes = old.tree().diff(new.tree())?.expect_complete();
    Ok(changes
        .iter()
        .filter_map(|c| {
            c.right
                .as_ref()
                .map(|v| (c.key.len() + v.as_bytes().len()) as u64)
        })
        .sum())
}

/// The database root an actor's state holds.
pub fn db_root(fvm: &mut LocalFvm, actor: ActorID) -> Result<Cid> {
    let head = fvm.head_of(actor)?;
    let state: prolly_actor::State = fvm
        .blockstore()
        .get_cbor(&head)?
        .context("the actor's state block")?;
    Ok(state.db_root)
}
