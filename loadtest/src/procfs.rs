//! Engine resource use for a local engine: resident memory from `/proc/{pid}/status`
//! (`VmRSS`) and CPU from `/proc/{pid}/stat` (`utime + stime`, in clock ticks of
//! 1/100 s, the Linux default `CLK_TCK`). Reads files only; Linux only.

use std::time::Instant;

/// Clock ticks per second assumed for `/proc/{pid}/stat` (Linux `USER_HZ`).
const TICKS_PER_S: f64 = 100.0;

/// Samples one process; CPU% is over the time since the previous sample.
pub struct ProcSampler {
    pid: u32,
    last: Option<(Instant, u64)>,
}

impl ProcSampler {
    pub fn new(pid: u32) -> ProcSampler {
        ProcSampler { pid, last: None }
    }

    /// `(rss_kib, cpu_percent)`; CPU is `None` on the first call. `None` when the
    /// process cannot be read (gone, not Linux).
    pub fn sample(&mut self) -> Option<(u64, Option<f64>)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let rss = parse_rss_kib(&status)?;
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let ticks = parse_cpu_ticks(&stat)?;
        let now = Instant::now();
        let cpu = self.last.map(|(t, prev)| {
            let dt = now.duration_since(t).as_secs_f64();
            if dt > 0.0 {
                ticks.saturating_sub(prev) as f64 / TICKS_PER_S / dt * 100.0
            } else {
                0.0
            }
        });
        self.last = Some((now, ticks));
        Some((rss, cpu))
    }
}

fn parse_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `utime + stime`: fields 14 and 15, counted after the `)` closing the command name
/// (which may contain spaces).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field n is f[n - 3].
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(parse_rss_kib("Name:\tx\nVmRSS:\t  12345 kB\n"), Some(12345));
        let stat = "42 (switch board) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 8 0";
        assert_eq!(parse_cpu_ticks(stat), Some(200));
        let mut me = ProcSampler::new(std::process::id());
        let (rss, cpu) = me.sample().expect("own process readable");
        assert!(rss > 0 && cpu.is_none());
        assert!(me.sample().unwrap().1.is_some());
    }
}
