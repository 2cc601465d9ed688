//! `make bench`: the failure limiter under a flood of distinct client addresses. Two threads
//! (the machine's cores) record one failure each for a million distinct budgets (half IPv4
//! addresses, half IPv6 /64s), as a botnet or a client rotating through its prefixes would,
//! every call timed; then the process' resident memory. Run with the default bound on budgets
//! and with one large enough to hold them all.
//!
//!   tollgate-bench-limiter [addresses] [threads]

use std::net::IpAddr;
use std::time::Instant;
use tollgate_server::client_address::Budget;
use tollgate_server::gateway::limiter::{FailureLimiter, DEFAULT_CAPACITY};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The n-th distinct address: IPv4 for even n, an IPv6 in a /64 of its own for odd n.
fn address(n: u64) -> IpAddr {
    if n.is_multiple_of(2) {
        IpAddr::from(((n / 2) as u32).wrapping_add(0x0b00_0000).to_be_bytes())
    } else {
        let prefix = 0x2001_0db8_0000_0000u64 | (n / 2);
        IpAddr::from(((u128::from(prefix) << 64) | 1).to_be_bytes())
    }
}

fn run(addresses: u64, threads: u64, capacity: usize) {
    // The timings' own memory first (touched), so that the RSS growth is the limiter's.
    let mut slots: Vec<Vec<u64>> = (0..threads)
        .map(|_| vec![u64::MAX; (addresses / threads) as usize + 1])
        .collect();
    let before = rss_kib();
    let limiter = FailureLimiter::with_capacity(60, capacity);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (t, own) in slots.iter_mut().enumerate() {
            let limiter = &limiter;
            scope.spawn(move || {
                let mut n = t as u64;
                let mut i = 0;
                while n < addresses {
                    let budget = Budget::of(address(n));
                    let at = Instant::now();
                    std::hint::black_box(limiter.failed(budget));
                    own[i] = at.elapsed().as_nanos() as u64;
                    i += 1;
                    n += threads;
                }
                own.truncate(i);
            });
        }
    });
    let grown = rss_kib().saturating_sub(before);
    let mut latencies: Vec<u64> = slots.concat();
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "limiter, {addresses} distinct addresses on {threads} threads, bound {} budgets: {:.1} M failed() calls/s; \
         p50 {} ns, p99 {} ns, p99.9 {} ns, max {} µs; table {:.1} MB, process RSS +{:.1} MB",
        limiter.capacity(),
        addresses as f64 / elapsed.as_secs_f64() / 1e6,
        at(0.50),
        at(0.99),
        at(0.999),
        latencies.last().copied().unwrap_or(0) / 1000,
        limiter.table_bytes() as f64 / 1e6,
        grown as f64 / 1024.0,
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addresses: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let threads: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    run(addresses, threads, DEFAULT_CAPACITY);
    run(addresses, threads, addresses as usize);
}
