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
    Verify {
        proof: PathBuf,
        /// A Filecoin state root you trust (with --actor).
        #[arg(long, value_name = "CID", requires = "actor")]
        state_root: Option<String>,
        #[arg(long, value_name = "ID")]
        actor: Option<u64>,
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
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum WriteMode {
    Insert,
    Upsert,
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
