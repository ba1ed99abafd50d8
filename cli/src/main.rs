//! `prolly`: the command line of prollydb. Parsing and printing live here; what is not about the
//! command line (import parsing, the query loop, the store, serving) lives in the library crates.

mod args;
mod failure;
mod local;
mod output;
mod reads;
mod remote;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use failure::{Failure, Result};

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
    if let Command::Verify {
        proof,
        state_root,
        actor,
    } = &cli.command
    {
        return local::verify(proof, cli.root.as_deref(), state_root.as_deref(), *actor);
    }
    match (&cli.db, cli.remote.is_empty()) {
        (Some(dir), true) => local::run(dir, &cli).await,
        (None, false) => remote::run(&cli).await,
        (None, true) => Err(Failure::usage(
            "give --db DIR (a local database) or --remote URL",
        )),
        (Some(_), false) => Err(Failure::usage("give --db or --remote, not both")),
    }
}
