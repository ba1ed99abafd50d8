//! `prolly`: the command line of prollydb. Parsing and printing live here; what is not about the
//! command line (import parsing, the query loop, the store, serving) lives in the library crates.

mod args;
mod chain;
#[cfg(feature = "devnet")]
mod demo;
#[cfg(feature = "devnet")]
mod devnet;
mod failure;
mod local;
mod output;
mod reads;
mod remote;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use failure::{Failure, Result};

/// mimalloc, not the system allocator: an import builds and frees millions of small maps across
/// two threads, and glibc's malloc took 7.0 s where mimalloc took 5.7 s for the same import of
/// 336,776 flights (`cli-bench`'s child, alternating runs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit 2
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("prolly: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("prolly: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Verify { proof } => {
            return local::verify(
                proof,
                cli.root.as_deref(),
                cli.state_root.as_deref(),
                cli.actor,
            );
        }
        #[cfg(feature = "devnet")]
        Command::Devnet {
            listen,
            actors,
            block_time,
        } => return devnet::run(cli.db.as_deref(), listen, *actors, *block_time).await,
        #[cfg(feature = "devnet")]
        Command::Demo { data } => return demo::run(data.as_deref(), cli.json).await,
        _ => {}
    }
    // With --actor and no --remote, the node Lotus tools would use.
    let mut remotes = cli.remote.clone();
    if remotes.is_empty()
        && cli.actor.is_some()
        && let Ok(info) = std::env::var("FULLNODE_API_INFO")
    {
        remotes.push(info);
    }
    match (&cli.db, remotes.is_empty()) {
        (Some(dir), true) => local::run(dir, &cli).await,
        (None, false) => remote::run(&cli, &remotes).await,
        (None, true) => Err(Failure::usage(
            "give --db DIR (a local database) or --remote URL",
        )),
        (Some(_), false) => Err(Failure::usage("give --db or --remote, not both")),
    }
}
