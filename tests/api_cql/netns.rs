//! A small network of Linux network namespaces for engine processes, so a test can
//! partition one engine from its peers, or from the store, while it keeps running
//! (the partition tests, `tests/api_cql/partition.rs`). Needs root (`ip netns`, veth
//! pairs, a bridge).
//!
//! The layout, per [`Net`] (names carry the test process's pid and a letter per net,
//! so concurrent tests and test processes do not collide; the /24 is the first
//! `10.211.<n>.0/24` no interface or route of the machine uses):
//!
//! - a bridge in the root namespace with two addresses: `10.211.<n>.1`, where the test
//!   process reaches the engines, and `10.211.<n>.2`, where the store is reached;
//! - per node `i` a namespace with a veth pair: the root end on the bridge, the
//!   namespace end `eth0` with `10.211.<n>.(11+i)/24`, and `lo` up. The engine runs
//!   there (`ip netns exec`, which execs it: the child's pid is the engine's) and
//!   listens on its `eth0` address;
//! - the CQL store at `127.0.0.11:<port>` *inside* each namespace: the driver reaches a
//!   database node at the address the node reports (127.0.0.11) with the contact
//!   point's port (see `relay.rs`), so a relay listens there, on threads that entered
//!   the namespace (`setns`), and forwards each connection — made from the namespace
//!   too — to `10.211.<n>.2:<port2>`, where a relay in the root namespace forwards it
//!   to the real store. Every byte between an engine and the store crosses its veth.
//!
//! Partitions are routes inside a node's namespace, nothing else: a blackhole route to
//! `10.211.<n>.2` cuts it from the store ([`Net::partition_from_store`]), blackhole
//! routes to the other nodes' addresses cut it from its peers
//! ([`Net::partition_from_peers`]), and [`Net::heal`] removes them. No relay is cut and
//! no process is signalled: this is a real network partition. The node's kernel
//! drops every segment its established connections send across the cut (so they hang,
//! retransmitting, until the engine's own deadlines give up on them, and carry on if
//! the cut heals first), and a new connection from the node across it fails at once
//! (`connect` answers `EINVAL` for a blackhole route; the relay then closes the
//! engine's connection to it, as a store behind a dead link would); a peer's
//! connection to the node gets its SYN through and never sees the answer (it hangs
//! until the peer's deadline). The test process at `10.211.<n>.1` reaches every node
//! throughout, so it can watch both sides.
//!
//! Everything is removed on drop (also when the test panics); leftovers of the same
//! names (a crashed run under the same pid) are removed first.

use crate::helpers::*;
use crate::process::Proc;
use crate::relay::Relay;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The port every engine listens on, at its namespace's address.
pub const ENGINE_PORT: u16 = 8080;

/// The nets of this process so far (a letter each, in interface names).
static NETS: AtomicU8 = AtomicU8::new(0);
/// Held while a net picks its /24 and claims it with the bridge's addresses.
static SUBNETS: Mutex<()> = Mutex::new(());

/// Runs `ip args…`; panics with its stderr unless it succeeded.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "ip {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The output of `ip args…`, which must succeed.
fn ip_output(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "ip {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the link `name` exists in the root namespace.
fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", "dev", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn netns_path(ns: &str) -> String {
    format!("/var/run/netns/{ns}")
}

/// Moves the calling thread into the network namespace `ns`: the sockets it makes from
/// then on belong to that namespace (and keep it, whichever thread uses them).
fn enter(ns: &str) -> std::io::Result<()> {
    let f = std::fs::File::open(netns_path(ns))?;
    // SAFETY: setns(2) on a namespace file this thread opened, for this thread only.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One node's place in the net.
struct Node {
    ns: String,
    /// The root end of its veth pair (deleting it deletes the pair).
    veth: String,
    /// Its address, `10.211.<n>.(11+i)`.
    addr: String,
    /// The port of its relay to the store at 127.0.0.11 in its namespace.
    store_port: u16,
    /// The blackhole routes in its namespace now (what [`Net::heal`] removes).
    cuts: Vec<String>,
}

/// The network of a test: see the module's doc.
pub struct Net {
    bridge: String,
    subnet: String,
    nodes: Vec<Node>,
    root_relay: Option<Relay>,
    ns_relays: Vec<NsRelay>,
}

impl Net {
    /// Builds the bridge, `n` namespaces and the relays to the store.
    pub async fn new(n: usize) -> Net {
        assert!(n <= 9, "one letter and one digit per interface name");
        let letter = (b'a' + NETS.fetch_add(1, Ordering::SeqCst)) as char;
        assert!(letter.is_ascii_lowercase(), "too many nets in one process");
        let tag = format!("sb{}{letter}", std::process::id());
        let mut net = Net {
            bridge: format!("{tag}br"),
            subnet: String::new(),
            nodes: (0..n)
                .map(|i| Node {
                    ns: format!("{tag}n{i}"),
                    veth: format!("{tag}v{i}"),
                    addr: String::new(),
                    store_port: 0,
                    cuts: Vec::new(),
                })
                .collect(),
            root_relay: None,
            ns_relays: Vec::new(),
        };
        // Leftovers of these names: a crashed run under the same pid.
        net.remove();
        {
            let _claim = SUBNETS.lock().unwrap_or_else(|e| e.into_inner());
            let addrs = ip_output(&["-4", "-o", "addr", "show"]);
            let routes = ip_output(&["-4", "route", "show", "table", "all"]);
            let third = (0..=255u8)
                .find(|k| {
                    let prefix = format!("10.211.{k}.");
                    !addrs.contains(&prefix) && !routes.contains(&prefix)
                })
                .expect("a free 10.211.x.0/24");
            net.subnet = format!("10.211.{third}");
            ip(&["link", "add", &net.bridge, "type", "bridge"]);
            for host in [1, 2] {
                let a = format!("{}.{host}/24", net.subnet);
                ip(&["addr", "add", &a, "dev", &net.bridge]);
            }
        }
        ip(&["link", "set", &net.bridge, "up"]);
        for i in 0..n {
            let (ns, veth) = (net.nodes[i].ns.clone(), net.nodes[i].veth.clone());
            let addr = format!("{}.{}", net.subnet, 11 + i);
            let peer = format!("{}p{i}", &veth[..veth.len() - 2]);
            ip(&["netns", "add", &ns]);
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", &peer]);
            ip(&["link", "set", &veth, "master", &net.bridge]);
            ip(&["link", "set", &veth, "up"]);
            ip(&["link", "set", &peer, "netns", &ns]);
            ip(&["-n", &ns, "link", "set", &peer, "name", "eth0"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            net.nodes[i].addr = addr;
        }
        // The store: root relay at .2, and a relay at 127.0.0.11 in each namespace.
        let store_side = format!("{}.2", net.subnet);
        let listener = tokio::net::TcpListener::bind((store_side.as_str(), 0))
            .await
            .expect("bind the store's relay on the bridge");
        let port2 = listener.local_addr().unwrap().port();
        net.root_relay = Some(Relay::start(listener, cql_contact_points()[0].clone()));
        let target: SocketAddr = format!("{store_side}:{port2}").parse().unwrap();
        for i in 0..n {
            let relay = NsRelay::start(&net.nodes[i].ns, target);
            net.nodes[i].store_port = relay.port;
            net.ns_relays.push(relay);
        }
        net
    }

    /// Node `i`'s address.
    pub fn addr(&self, i: usize) -> &str {
        &self.nodes[i].addr
    }

    /// Starts the engine binary as node `i` (`name`) in its namespace, on `dir`'s
    /// keyspace through its relay to the store, with spread-style `env`; its log
    /// (stdout and stderr) goes to `<dir>/<name>.log` ([`Net::log`]).
    pub fn spawn(&self, i: usize, dir: &std::path::Path, env: &[(&str, &str)]) -> Proc {
        let node = &self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(Self::log_path(dir, i))
            .expect("the engine's log file");
        let listen = format!("{}:{ENGINE_PORT}", node.addr);
        let contact = format!("127.0.0.11:{}", node.store_port);
        let child = Command::new("ip")
            .args(["netns", "exec", &node.ns])
            .arg(env!("CARGO_BIN_EXE_switchboard"))
            .args(["--listen", &listen, "--workers", "2"])
            .args(["--store", "scylla", "--scylla-replication-factor", "1"])
            .args(["--scylla-contact-points", &contact])
            .args(["--scylla-keyspace", &cql_keyspace(dir)])
            .arg("--data-dir")
            .arg(dir)
            .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                "warn,switchboard=info,switchboard_engine=info,switchboard_cluster=info",
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file again"))
            .stderr(log)
            .spawn()
            .expect("ip netns exec starts");
        Proc {
            child,
            base: format!("http://{listen}"),
            port: ENGINE_PORT,
            http: test_http_client(),
        }
    }

    fn log_path(dir: &std::path::Path, i: usize) -> std::path::PathBuf {
        dir.join(format!("node-{i}.log"))
    }

    /// What node `i`'s engine logged so far.
    pub fn log(dir: &std::path::Path, i: usize) -> String {
        std::fs::read_to_string(Self::log_path(dir, i)).unwrap_or_default()
    }

    fn blackhole(&mut self, i: usize, dst: String) {
        let route = format!("{dst}/32");
        ip(&["-n", &self.nodes[i].ns, "route", "add", "blackhole", &route]);
        self.nodes[i].cuts.push(route);
    }

    /// Cuts node `i` from the store (its peers and the test still reach it).
    pub fn partition_from_store(&mut self, i: usize) {
        self.blackhole(i, format!("{}.2", self.subnet));
    }

    /// Cuts node `i` from every other node (the store and the test still reach it).
    pub fn partition_from_peers(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                let peer = self.nodes[j].addr.clone();
                self.blackhole(i, peer);
            }
        }
    }

    /// Removes node `i`'s blackhole routes.
    pub fn heal(&mut self, i: usize) {
        for route in std::mem::take(&mut self.nodes[i].cuts) {
            ip(&["-n", &self.nodes[i].ns, "route", "del", "blackhole", &route]);
        }
    }

    /// Removes whatever of this net exists (never panics: it runs on drop).
    fn remove(&mut self) {
        let mut failed = Vec::new();
        let mut quiet = |args: &[&str]| match Command::new("ip").args(args).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => failed.push(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => failed.push(format!("ip {}: {e}", args.join(" "))),
        };
        for node in &self.nodes {
            if link_exists(&node.veth) {
                quiet(&["link", "del", &node.veth]);
            }
            if std::path::Path::new(&netns_path(&node.ns)).exists() {
                quiet(&["netns", "del", &node.ns]);
            }
        }
        if link_exists(&self.bridge) {
            quiet(&["link", "del", &self.bridge]);
        }
        if !failed.is_empty() {
            eprintln!("netns: cleaning up failed: {failed:?}");
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for r in &self.ns_relays {
            r.stop();
        }
        if let Some(r) = &self.root_relay {
            r.cut();
        }
        self.remove();
    }
}

/// A relay listening at 127.0.0.11 in a namespace: a thread that entered it accepts,
/// and a thread per connection (which enters it too) connects to the target and copies
/// both ways.
struct NsRelay {
    port: u16,
    stop: Arc<AtomicBool>,
    /// The streams of every open connection, to shut down when it stops (a copy
    /// blocked on a hanging connection wakes up).
    open: Streams,
}

type Streams = Arc<Mutex<std::collections::BTreeMap<u64, [TcpStream; 2]>>>;

impl NsRelay {
    fn start(ns: &str, target: SocketAddr) -> NsRelay {
        let stop = Arc::new(AtomicBool::new(false));
        let open: Streams = Default::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let ns = ns.to_owned();
        std::thread::Builder::new()
            .name(format!("relay-{ns}"))
            .spawn({
                let (stop, open) = (stop.clone(), open.clone());
                move || {
                    let listener = enter(&ns)
                        .and_then(|()| TcpListener::bind("127.0.0.11:0"))
                        .and_then(|l| l.set_nonblocking(true).map(|()| l));
                    let listener = match listener {
                        Ok(l) => l,
                        Err(e) => return tx.send(Err(e.to_string())).unwrap(),
                    };
                    tx.send(Ok(listener.local_addr().unwrap().port())).unwrap();
                    let mut id = 0;
                    while !stop.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((inbound, _)) => {
                                id += 1;
                                let (ns, open) = (ns.clone(), open.clone());
                                std::thread::spawn(move || {
                                    relay_one(&ns, inbound, target, id, &open)
                                });
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(10)); // accept poll
                            }
                            Err(_) => break,
                        }
                    }
                }
            })
            .expect("a relay thread");
        let port = rx
            .recv()
            .expect("the relay thread answers")
            .unwrap_or_else(|e| panic!("relay in the namespace: {e}"));
        NsRelay { port, stop, open }
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().values().flatten() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// One connection of an [`NsRelay`]: connect from the namespace (a refused or
/// unroutable connect drops the inbound one), then copy both ways until both sides
/// ended (a half-close is passed on; an error ends the connection both ways).
fn relay_one(ns: &str, inbound: TcpStream, target: SocketAddr, id: u64, open: &Streams) {
    let _ = inbound.set_nonblocking(false);
    let outbound =
        enter(ns).and_then(|()| TcpStream::connect_timeout(&target, Duration::from_secs(2)));
    let Ok(outbound) = outbound else {
        return;
    };
    let (Ok(in2), Ok(out2), Ok(in3), Ok(out3)) = (
        inbound.try_clone(),
        outbound.try_clone(),
        inbound.try_clone(),
        outbound.try_clone(),
    ) else {
        return;
    };
    open.lock().unwrap().insert(id, [in3, out3]);
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) => {
                        let _ = to.shutdown(std::net::Shutdown::Write);
                        return;
                    }
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = from.shutdown(std::net::Shutdown::Both);
            let _ = to.shutdown(std::net::Shutdown::Both);
        }
    };
    let back = std::thread::spawn(pipe(out2, in2));
    pipe(inbound, outbound)();
    let _ = back.join();
    open.lock().unwrap().remove(&id);
}
