//! A million customers (issue 21, item 4): activates `SB_CUSTOMERS` (default
//! 1,000,000) customer actors in one process and reports the activation rate, the
//! resident memory (`VmRSS`, `VmHWM` from `/proc/self/status`) and whether the actors
//! passivate at that scale. A benchmark: nothing is asserted; behaviour is tested by
//! `tests/api`. Figures and their reading are in BENCHMARKS.md ("A million
//! customers").
//!
//! One engine with the embedded store in a temporary directory (on `/dev/shm` when it
//! exists, so the disk does not enter the figures), no sockets, no HTTP traffic: the
//! REST door's own function (`ingest::from_rest`, staff-only, so the anonymous
//! per-address budgets do not apply) delivers one SMS message from each of
//! `SB_CUSTOMERS` distinct addresses (`+8190` and eight digits), at most `SB_IN_FLIGHT`
//! (default 256) at once. Each message creates a customer (a new identity), activates
//! its actor and opens a conversation that waits in a queue (no agent is on).
//!
//! Settings are the defaults except:
//! - `timing.customer_idle_ms = SB_IDLE_MS` (default 20,000): the passivation idle
//!   time, short so that the run can watch the actors passivate. An actor activated
//!   more than `SB_IDLE_MS` (to 1.5 times that: the idle check runs every half idle
//!   time) before the last one may already have passivated when the activation ends;
//!   the live count printed says how many were alive at once. To hold all of them live
//!   at once, give an idle time longer than the activation (e.g. `SB_IDLE_MS=600000`).
//! - The waiting conversations are spread over `ceil(N / 10,000)` queues
//!   (`million-000`, ...), each with the default `max_waiting` (10,000), instead of the
//!   default queue: one queue refuses the 10,001st waiting conversation
//!   (`queue_full`), and a deployment would not keep a million waiting in one queue
//!   either. No limit was raised.
//!
//! The binary uses mimalloc, as `src/main.rs` does (a bench is a binary of its own and
//! does not get the server's `#[global_allocator]`), so the RSS is the server's.
//! Memory freed by passivated actors may stay in the allocator's pages for a while, so
//! RSS after passivation is an upper bound of what the survivors hold.
//!
//! Run: `cargo bench --bench million` (the full million: several GiB of RAM, minutes),
//! or `SB_CUSTOMERS=10000 cargo bench --bench million` for a quick one.

use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::actors::ingest::{from_rest, RestInput};
use switchboard::config::Settings;
use switchboard::domain::{QueueConfig, QueueName, SystemClock};
use switchboard::startup::Application;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Waiting conversations per queue: the default `max_waiting`.
const PER_QUEUE: usize = 10_000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// `(VmRSS, VmHWM)` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let m = mem_kib();
    (m[0], m[1])
}

/// `[VmRSS, VmHWM, RssAnon, RssFile, RssShmem]` of this process, in KiB (0 when not
/// Linux). `RssShmem` counts the mapped pages of files on `/dev/shm` (the search
/// index's segments when the data directory is there).
fn mem_kib() -> [u64; 5] {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    ["VmRSS:", "VmHWM:", "RssAnon:", "RssFile:", "RssShmem:"].map(field)
}

/// "anon=… file=… shmem=…" in MiB.
fn breakdown() -> String {
    let m = mem_kib();
    format!(
        "(anon {:.0} file {:.0} shmem {:.0})",
        mib(m[2]),
        mib(m[3]),
        mib(m[4])
    )
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let customers: usize = env_or("SB_CUSTOMERS", 1_000_000);
    let in_flight: usize = env_or("SB_IN_FLIGHT", 256).max(1);
    let idle_ms: u64 = env_or("SB_IDLE_MS", 20_000);
    let shm = std::path::Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("sb-million-")
        .tempdir_in(parent)
        .expect("a temporary data directory");
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().expect("static address"),
        data_dir: dir.path().to_path_buf(),
        workers: 1,
        bootstrap_admin_password: Some("million-bench".into()),
        ..Settings::default()
    };
    settings.timing.customer_idle_ms = idle_ms;
    // SB_SEARCH=0: without the search index's feed (for telling its memory apart).
    settings.search.enabled = env_or("SB_SEARCH", 1u8) != 0;
    let search = settings.search.enabled;
    let actor_threads = settings.actor_threads;
    let sys = actix_rt::System::new();
    sys.block_on(async move {
        let app = Application::build_with_store(settings, Arc::new(SystemClock), Box::new(|s| s))
            .await
            .expect("the engine starts");
        let server = app.server();
        let queues: Vec<String> = (0..customers.div_ceil(PER_QUEUE))
            .map(|q| format!("million-{q:03}"))
            .collect();
        for q in &queues {
            let name = QueueName::parse(q).expect("a valid queue name");
            server
                .save_queue(QueueConfig::new(name))
                .await
                .expect("the queue is saved");
        }
        let (base_rss, _) = rss_kib();
        println!(
            "million: {customers} customers, {in_flight} in flight, customer_idle_ms={idle_ms}, \
             {} queues, {actor_threads} actor threads, search={search}; baseline RSS {:.1} MiB \
             {}, live actors {}",
            queues.len(),
            mib(base_rss),
            breakdown(),
            server.live_customers()
        );

        let step = 100_000.min((customers / 10).max(1));
        let start = Instant::now();
        let mut last = (start, 0usize);
        let mut done = 0usize;
        let mut failed = 0usize;
        let mut peak_live = 0usize;
        let mut rss_per_actor_kib = 0.0f64;
        let queues = &queues;
        let server_ref = &server;
        let mut results = futures::stream::iter(0..customers)
            .map(|i| async move {
                from_rest(
                    server_ref,
                    RestInput {
                        channel: "sms".into(),
                        address: format!("+8190{i:08}"),
                        text: format!("注文番号 {i} の配送状況を教えてください"),
                        client_msg_id: Some(format!("million-{i}")),
                        queue: Some(queues[i / PER_QUEUE].clone()),
                        requirements: Default::default(),
                        language: None,
                        difficulty: None,
                    },
                )
                .await
            })
            .buffer_unordered(in_flight);
        while let Some(r) = results.next().await {
            done += 1;
            if let Err(e) = r {
                failed += 1;
                if failed <= 5 {
                    eprintln!("million: message {done} refused: {e}");
                }
            }
            if done.is_multiple_of(step) || done == customers {
                let now = Instant::now();
                let interval = now.duration_since(last.0).as_secs_f64();
                let overall = now.duration_since(start).as_secs_f64();
                let live = server.live_customers();
                peak_live = peak_live.max(live);
                let (rss, _) = rss_kib();
                let per_actor = if live > 0 {
                    rss.saturating_sub(base_rss) as f64 / live as f64
                } else {
                    0.0
                };
                if live == peak_live {
                    rss_per_actor_kib = per_actor;
                }
                println!(
                    "million: activated={done} failed={failed} elapsed={overall:.1}s \
                     rate={:.0}/s (overall {:.0}/s) rss={:.1} MiB {} live={live} \
                     rss_per_live_actor={per_actor:.2} KiB",
                    (done - last.1) as f64 / interval,
                    done as f64 / overall,
                    mib(rss),
                    breakdown(),
                );
                last = (now, done);
            }
        }
        drop(results);
        let activated_in = start.elapsed().as_secs_f64();

        // Passivation: every actor idles from here on.
        let wait_from = Instant::now();
        let deadline = Duration::from_millis(idle_ms) + Duration::from_secs(30);
        let mut tick = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            tick += 1;
            let live = server.live_customers();
            let over = wait_from.elapsed() >= deadline;
            if tick.is_multiple_of(5) || live == 0 || over {
                println!(
                    "million: passivating t={:.0}s live={live} rss={:.1} MiB {}",
                    wait_from.elapsed().as_secs_f64(),
                    mib(rss_kib().0),
                    breakdown()
                );
            }
            if live == 0 || over {
                break;
            }
        }
        let live_after = server.live_customers();
        // VmHWM: the peak over the whole run, the passivation wait included.
        let (rss_after, peak_rss) = rss_kib();
        println!(
            "million: customers={customers} activated_in={activated_in:.1}s rate={:.0}/s \
             peak_rss={:.0} MiB rss_per_actor={rss_per_actor_kib:.2} KiB \
             live_after_passivation={live_after} rss_after={:.0} MiB \
             (failed={failed} peak_live={peak_live} baseline_rss={:.0} MiB, after {})",
            customers as f64 / activated_in,
            mib(peak_rss),
            mib(rss_after),
            mib(base_rss),
            breakdown(),
        );
        actix_rt::System::current().stop();
    });
    drop(dir);
}
