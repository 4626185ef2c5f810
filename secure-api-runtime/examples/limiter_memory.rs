//! Drives 1,000,000 distinct client keys through one limiter and prints the
//! cost per decision, the keys it ends up tracking, and the process's peak
//! memory.
//!
//! `cargo run --release -p secure-api-runtime --example limiter_memory`

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use secure_api_runtime::limit::{Key, Limiter, MAX_KEYS};
use secure_api_runtime::policy::Quota;

const CLIENTS: u32 = 1_000_000;

/// A field of `/proc/self/status`, in KiB (Linux).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let before = status_kib("VmRSS:").unwrap_or(0);
    let limiter = Limiter::new(
        &[Quota::per_minute(30), Quota::per_second(5)],
        None,
        MAX_KEYS,
    );
    // Spread over the address space, each client distinct.
    let key = |n: u32| Key::Ip(IpAddr::V4(Ipv4Addr::from(n.wrapping_mul(2_654_435_761))));
    println!(
        "{CLIENTS} distinct clients through one limiter of `30/minute; 5/second`, {MAX_KEYS} keys per quota"
    );
    let mut start = 0;
    for end in [50_000, 100_000, CLIENTS] {
        let started = Instant::now();
        let allowed = (start..end)
            .filter(|n| limiter.check(&key(*n)).is_ok())
            .count();
        let decisions = end - start;
        println!(
            "clients {start:>7}..{end:<7}: {allowed:>6} allowed, {:>6} refused, {:>4.0} ns per decision",
            decisions as usize - allowed,
            started.elapsed().as_nanos() as f64 / f64::from(decisions)
        );
        start = end;
    }
    let peak = status_kib("VmHWM:").unwrap_or(0);
    println!(
        "keys tracked at the end: {} across the 2 quotas",
        limiter.tracked_keys()
    );
    println!(
        "peak resident memory: {:.1} MiB (at start: {:.1} MiB)",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
