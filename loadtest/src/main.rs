//! `loadtest`: load-test harness for a running Switchboard engine.
//!
//! Drives the engine over real sockets (REST + websockets) using only the documented
//! wire protocol (docs/protocol.md, docs/api.md); it does not link the engine. See
//! loadtest/README.md for how to run it and what each figure means.
//!
//! Exit status: 0 when the run passed, 1 when it ran but lost messages or saw `error`
//! frames or harness failures, 2 when it could not run (bad flags, setup failure).

mod agent;
mod clock;
mod customer;
mod erlang;
mod messages;
mod net;
mod relay;
mod stats;
mod wire;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "loadtest",
    version,
    about = "Load-test harness for a running Switchboard engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Customer → agent / agent → customer message latency and routing time-to-offer.
    Messages(messages::Args),
    /// Validates queueing against the Erlang C model (Poisson arrivals, N agents).
    Erlang(erlang::Args),
    /// A bare websocket relay: the baseline the engine is compared with.
    RelayServer(relay::ServerArgs),
    /// The `messages` measurement against `relay-server`.
    Relay(relay::Args),
    /// Engine / relay ratios of two JSON reports.
    Ratio(relay::RatioArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Erlang(args) => runtime.block_on(erlang::main(&args)),
        Command::RelayServer(args) => runtime.block_on(relay::serve(&args)),
        Command::Relay(args) => runtime.block_on(relay::main(&args)),
        Command::Ratio(args) => relay::ratio_main(&args),
        Command::Messages(args) => match runtime.block_on(messages::run(&args)) {
            Ok(report) => {
                println!("{}", report.table());
                if let Some(path) = &args.json {
                    let written = serde_json::to_string_pretty(&report)
                        .map_err(anyhow::Error::from)
                        .and_then(|j| std::fs::write(path, j + "\n").map_err(anyhow::Error::from));
                    if let Err(e) = written {
                        eprintln!("error: writing {}: {e:#}", path.display());
                        return ExitCode::from(2);
                    }
                }
                if report.ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}
