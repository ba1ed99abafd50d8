//! The command line: a target (`--db DIR` or `--remote URL`), then the same subcommands whatever
//! the target.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "prolly",
    version,
    about = "prollydb: a content-addressed document database you can query from any node",
    after_help = "Exit codes: 0 success, 1 failure, 2 usage, 3 a proof that does not verify."
)]
pub struct Cli {
    /// A local database (a folder; created by the first write). Its HEAD is the current root.
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "remote")]
    pub db: Option<PathBuf>,

    /// Read from remote nodes (a prollydb node, an IPFS trustless gateway or a Lotus RPC
    /// endpoint; the kind is probed). Repeat for several.
    #[arg(long, global = true, value_name = "URL")]
    pub remote: Vec<String>,

    /// The root to read: required with --remote; an older root of a local database.
    #[arg(long, global = true, value_name = "CID")]
    pub root: Option<String>,

    /// A prollydb actor on the chain a --remote Lotus node (or devnet) follows: reads resolve its
    /// database root through StateGetActor; `send` writes through it.
    #[arg(long, global = true, value_name = "ID")]
    pub actor: Option<u64>,

    /// With --actor: the Filecoin state root you trust (otherwise the node's head, not
    /// independently checked). With `verify`: the state root the proof must verify against.
    #[arg(long, global = true, value_name = "CID")]
    pub state_root: Option<String>,

    /// With --remote: keep fetched blocks in this cache folder (otherwise in memory).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// Statistics (on stderr) as JSON.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Import documents from a file (.ndjson, .json or .csv, optionally .gz; - for stdin).
    Import {
        collection: String,
        file: String,
        /// Move this field into _id (with the type it parsed as).
        #[arg(long, value_name = "FIELD")]
        id: Option<String>,
        #[arg(long, value_enum, default_value_t = WriteMode::Insert)]
        mode: WriteMode,
        /// Documents per commit.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Continue an import of the same file from its last commit.
        #[arg(long)]
        resume: bool,
        /// CSV column types: FIELD:int|float|bool|string,...
        #[arg(long, value_name = "F:TYPE,...")]
        types: Option<String>,
        /// The file's kind, where its name does not say (stdin is NDJSON unless told).
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
    /// Apply a write batch (SPEC section 14) from a JSON file.
    Apply {
        batch: PathBuf,
    },
    /// Create an index: FIELDS is field[:desc],... .
    Index {
        collection: String,
        name: String,
        fields: String,
        #[arg(long)]
        unique: bool,
        /// Paths stored in the index entries (a covering index).
        #[arg(long, value_name = "PATH,...")]
        include: Option<String>,
    },
    /// Run a query (SPEC section 15, without "collection"; a bare object is a filter). Prints the
    /// documents as NDJSON.
    Query {
        collection: String,
        #[arg(default_value = "{}")]
        query: String,
        /// Write the result's proof (a CAR) here.
        #[arg(long, value_name = "OUT.car")]
        proof: Option<PathBuf>,
        /// Print the plan instead of running it.
        #[arg(long)]
        explain: bool,
        /// Follow cursors to the last page.
        #[arg(long)]
        all: bool,
        /// With --actor: prove the result from the state root (SPEC section 19), verify it,
        /// and say against which state root.
        #[arg(long)]
        anchored: bool,
    },
    /// Count the documents matching a filter.
    Count {
        collection: String,
        #[arg(default_value = "{}")]
        filter: String,
    },
    /// Print the root.
    Root,
    /// List the collections and their indexes.
    Collections,
    /// Documents per collection, and the tree's depth, nodes and bytes.
    Stats,
    /// Serve the database: a trustless gateway and the verified-query endpoint.
    Serve {
        #[arg(long, default_value = prolly_client::server::DEFAULT_LISTEN)]
        listen: String,
    },
    /// Verify a proof against the root you trust (--root) or a state root and actor; prints the
    /// proven result only when it verifies against one (without, it checks the proof against
    /// itself and prints nothing on stdout).
    /// (--state-root CID --actor ID: against a Filecoin state root you trust.)
    Verify {
        proof: PathBuf,
    },
    /// Documents added, removed and changed from one root to another, as NDJSON.
    Diff {
        from: String,
        to: String,
    },
    /// Three-way merge of two roots of this database (on documents: the catalog, then the
    /// documents; index entries follow the documents). Moves HEAD to the merge.
    Merge {
        ours: String,
        theirs: String,
        /// The common ancestor: a root, or `empty` (databases built apart).
        #[arg(long, default_value = "empty")]
        base: String,
        /// Settle conflicts for one side instead of refusing the merge.
        #[arg(long, value_enum)]
        prefer: Option<Side>,
    },
    /// Export every block of a root as a CARv1.
    Export {
        out: PathBuf,
    },
    /// Import the blocks of a CAR and move HEAD to its root.
    ImportCar {
        car: PathBuf,
    },
    /// Name a root (the HEAD if none is given), which keeps it from gc.
    Pin {
        name: String,
        root: Option<String>,
    },
    Unpin {
        name: String,
    },
    /// Remove the blocks no root reaches, and compact the file.
    Gc,
    /// Write through the actor (--remote NODE --actor ID; the node signs, so its token needs
    /// `sign`: pass --remote "$FULLNODE_API_INFO"). Prints the new root.
    Send {
        #[command(subcommand)]
        what: Send,
    },
    /// Follow the actor's commits (its events) and print, for each new root, the documents
    /// added, removed and changed, as NDJSON: notifications without an indexer.
    Follow {
        /// Only this collection's changes.
        collection: Option<String>,
        /// Start from this root (otherwise the actor's current one).
        #[arg(long, value_name = "CID")]
        from_root: Option<String>,
        /// Stop after this many commits.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Seconds between polls of the node.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
    },
    /// A local chain: the FVM in-process, prollydb actors at genesis, Lotus JSON-RPC, a
    /// trustless gateway and the verified-query endpoint (--db DIR keeps it; otherwise it is
    /// temporary).
    #[cfg(feature = "devnet")]
    Devnet {
        #[arg(long, default_value = "127.0.0.1:1234")]
        listen: String,
        /// prollydb actors at genesis (IDs from 1000).
        #[arg(long, default_value_t = 1)]
        actors: u32,
        /// Mine a tipset every SECS seconds instead of one per message.
        #[arg(long, value_name = "SECS")]
        block_time: Option<f64>,
    },
    /// The main job: a devnet, an actor, a real data set written through messages, then a
    /// fresh client's verified queries over HTTP, a followed commit and a summary.
    #[cfg(feature = "devnet")]
    Demo {
        /// A bigger file to load (.csv, .ndjson or .json, optionally .gz) instead of the shipped
        /// nycflights13 sample.
        #[arg(long, value_name = "FILE")]
        data: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum Send {
    /// Construct the actor, owned by the sender (the node's default address).
    Deploy {
        /// More addresses allowed to write.
        #[arg(long, value_name = "ADDRESS")]
        writer: Vec<String>,
    },
    /// Apply a write batch (SPEC section 14) from a JSON file, in one message.
    Apply { batch: PathBuf },
    /// Write a file's documents in messages under the chain's size limit.
    Import {
        collection: String,
        file: String,
        #[arg(long, value_name = "FIELD")]
        id: Option<String>,
        #[arg(long, value_enum, default_value_t = WriteMode::Insert)]
        mode: WriteMode,
        #[arg(long, value_name = "F:TYPE,...")]
        types: Option<String>,
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum WriteMode {
    Insert,
    Upsert,
}

impl WriteMode {
    pub fn import(self) -> prolly_client::import::WriteMode {
        match self {
            WriteMode::Insert => prolly_client::import::WriteMode::Insert,
            WriteMode::Upsert => prolly_client::import::WriteMode::Upsert,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Side {
    Ours,
    Theirs,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FileFormat {
    Ndjson,
    Json,
    Csv,
}
