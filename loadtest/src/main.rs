//! `loadtest` binary: parses the command line and runs a mode of the library.
//!
//! `loadtest messages …`, `loadtest scenario …` (and `loadtest --scenario NAME …`, the
//! same), `loadtest failover …`, `loadtest erlang …`, `loadtest relay-server …`,
//! `loadtest relay …`, `loadtest ratio …`. See loadtest/README.md.
//!
//! Exit status: 0 when the run passed, 1 when it ran but failed its checks (lost
//! messages, error frames in `messages`; accounting in `scenario`; lost or duplicated
//! messages in `failover`), 2 when it could not run (bad flags, engine unreachable,
//! setup failure, signal not sent, report not written).

use anyhow::Context;
use clap::{Parser, Subcommand};
use loadtest::{erlang, failover, messages, relay, scenario};
use std::path::Path;
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
    Messages(Box<messages::Args>),
    /// Contact-center traffic from a scenario (preset or TOML file).
    Scenario(Box<scenario::ScenarioArgs>),
    /// Steady chat traffic while an engine is killed: recovery time, lost and
    /// duplicated messages.
    Failover(Box<failover::Args>),
    /// Validates queueing against the Erlang C model (Poisson arrivals, N agents).
    Erlang(Box<erlang::Args>),
    /// A bare websocket relay: the baseline the engine is compared with.
    RelayServer(relay::ServerArgs),
    /// The `messages` measurement against `relay-server`.
    Relay(Box<relay::Args>),
    /// Engine / relay ratios of two JSON reports.
    Ratio(relay::RatioArgs),
}

fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(v)? + "\n")?;
    Ok(())
}

/// How a mode that ends with a report ends: the run's table on stdout, its JSON written
/// to `json` if given, then `also` (the scenario's HTML report); the exit status (see
/// the module doc) from whether it ran, whether every file was written, and `ok`.
fn conclude<R: serde::Serialize>(
    run: anyhow::Result<R>,
    json: Option<&Path>,
    table: impl FnOnce(&R) -> String,
    ok: impl FnOnce(&R) -> bool,
    also: impl FnOnce(&R) -> anyhow::Result<()>,
) -> ExitCode {
    let written = run.and_then(|report| {
        println!("{}", table(&report));
        if let Some(path) = json {
            write_json(path, &report).with_context(|| format!("writing {}", path.display()))?;
        }
        also(&report)?;
        Ok(report)
    });
    match written {
        Ok(report) if ok(&report) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    // `loadtest --scenario steady …` means `loadtest scenario --scenario steady …`.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| a == "--scenario" || a.starts_with("--scenario="))
    {
        argv.insert(1, "scenario".into());
    }
    let cli = Cli::parse_from(argv);
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
        Command::Messages(args) => conclude(
            runtime.block_on(messages::run(&args)),
            args.json.as_deref(),
            |r| r.table(),
            |r| r.ok,
            |_| Ok(()),
        ),
        Command::Failover(args) => conclude(
            runtime.block_on(failover::run(&args)),
            args.json.as_deref(),
            |r| r.table(),
            |r| r.ok,
            |_| Ok(()),
        ),
        Command::Scenario(args) => conclude(
            runtime.block_on(scenario::run_scenario(&args)),
            args.json.as_deref(),
            |r| r.table(),
            |r| r.ok,
            |report| {
                if !args.no_report {
                    scenario::charts::write_report(&args.report, report)
                        .context("writing the report")?;
                    eprintln!("report: {}", args.report.join("index.html").display());
                }
                Ok(())
            },
        ),
    }
}
