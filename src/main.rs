//! The `switchboard` binary: parse flags, set up logging, run the application.

use clap::Parser;
use switchboard::config::{Cli, Settings};
use switchboard::startup::{self, Application};

/// mimalloc instead of glibc malloc: glibc raises its mmap threshold after the first
/// freed argon2 buffer (~19 MiB) and then keeps every later one in per-thread arenas,
/// which left a few dozen logins holding ~1.5 GiB of RSS. mimalloc returns it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let settings = Settings::load(&cli)?;
    if cli.check_schema {
        let current = actix_rt::System::new().block_on(startup::check_schema(&settings))?;
        std::process::exit(if current { 0 } else { 1 });
    }
    actix_rt::System::new().block_on(async move {
        let app = match Application::build(settings).await {
            Ok(app) => app,
            // Told to stop before it ever served: a clean exit.
            Err(e) if e.is::<switchboard::active::StoppedBeforeServing>() => return Ok(()),
            Err(e) => return Err(e),
        };
        app.run_until_stopped().await?;
        Ok(())
    })
}
