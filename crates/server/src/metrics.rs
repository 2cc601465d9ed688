//! Prometheus metrics served at `/metrics`: requests by endpoint and status, latency,
//! introspection results, registry token grants, cache hits and misses, rate limiting.
//!
//! The gateway's successful checks come by the ten thousand a second on every core: their
//! counts and latencies are kept in [`Striped`] slots, one per thread on a cache line of its
//! own, and summed when `/metrics` is read. A shared counter written by both cores on every
//! request made its cache line travel between them each time (measured: about 0.6 µs of the
//! 12 µs an introspection costs).

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The latency buckets, in seconds.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Slots of a striped metric: threads beyond this many share them (still correct, only
/// slower).
const SLOTS: usize = 8;

/// This thread's slot.
fn slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS);
    SLOT.with(|s| *s)
}

/// One thread's share of a count and a latency histogram, on cache lines of its own.
#[repr(align(128))]
#[derive(Default)]
struct Share {
    count: AtomicU64,
    /// Observations per bucket (not cumulative); the last one is beyond every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    nanos: AtomicU64,
}

/// A count, and optionally the latencies behind it, added to in per-thread slots.
#[derive(Default)]
pub struct Striped {
    shares: [Share; SLOTS],
}

impl Striped {
    pub fn inc(&self) {
        self.shares[slot()].count.fetch_add(1, Ordering::Relaxed);
    }

    /// One more, that took `seconds`.
    pub fn observe(&self, seconds: f64) {
        let share = &self.shares[slot()];
        share.count.fetch_add(1, Ordering::Relaxed);
        let bucket = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        share.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        share.nanos.fetch_add((seconds * 1e9).round() as u64, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.shares.iter().map(|s| s.count.load(Ordering::Relaxed)).sum()
    }

    fn counter(&self, labels: &[(&str, &str)]) -> proto::Metric {
        let mut counter = proto::Counter::default();
        counter.set_value(self.get() as f64);
        let mut metric = proto::Metric::from_label(label_pairs(labels));
        metric.set_counter(counter);
        metric
    }

    fn histogram(&self, labels: &[(&str, &str)]) -> proto::Metric {
        let mut per_bucket = [0u64; BUCKETS.len() + 1];
        let (mut count, mut nanos) = (0u64, 0u64);
        for share in &self.shares {
            for (sum, b) in per_bucket.iter_mut().zip(&share.buckets) {
                *sum += b.load(Ordering::Relaxed);
            }
            nanos += share.nanos.load(Ordering::Relaxed);
        }
        let mut cumulative = 0;
        let buckets = BUCKETS
            .iter()
            .zip(per_bucket)
            .map(|(bound, n)| {
                cumulative += n;
                let mut bucket = proto::Bucket::default();
                bucket.set_upper_bound(*bound);
                bucket.set_cumulative_count(cumulative);
                bucket
            })
            .collect();
        // The count is the buckets' total (read together, unlike the separate count field).
        count += per_bucket.iter().sum::<u64>();
        let mut histogram = proto::Histogram::default();
        histogram.set_sample_count(count);
        histogram.set_sample_sum(nanos as f64 / 1e9);
        histogram.set_bucket(buckets);
        let mut metric = proto::Metric::from_label(label_pairs(labels));
        metric.set_histogram(histogram);
        metric
    }
}

fn label_pairs(labels: &[(&str, &str)]) -> Vec<proto::LabelPair> {
    labels
        .iter()
        .map(|(name, value)| {
            let mut pair = proto::LabelPair::default();
            pair.set_name((*name).to_owned());
            pair.set_value((*value).to_owned());
            pair
        })
        .collect()
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<proto::Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.to_owned());
    family.set_help(help.to_owned());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

/// The striped series: each gateway check's successes and latency, and the introspection and
/// cache results.
#[derive(Default)]
struct Hot {
    /// Per entry of [`tollgate_model::paths::GATEWAY_CHECKS`]: its 200 answers (other statuses are
    /// counted in the vector).
    gateway_ok: [Striped; tollgate_model::paths::GATEWAY_CHECKS.len()],
    /// Per entry of [`tollgate_model::paths::GATEWAY_CHECKS`]: the latency of all its answers (the
    /// latency's only label is the endpoint, so all of them are one series).
    gateway_latency: [Striped; tollgate_model::paths::GATEWAY_CHECKS.len()],
    active: Striped,
    inactive: Striped,
    hits: Striped,
    misses: Striped,
}

/// Requests and latency: the registered vectors for most series, the striped ones for the
/// gateway's successes, gathered into the same families. Also the introspection and cache
/// families, all striped.
struct Gathered {
    requests: IntCounterVec,
    latency: HistogramVec,
    hot: Arc<Hot>,
    descs: Vec<Desc>,
}

impl Collector for Gathered {
    fn desc(&self) -> Vec<&Desc> {
        let mut descs = self.requests.desc();
        descs.extend(self.latency.desc());
        descs.extend(self.descs.iter());
        descs
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut requests = self.requests.collect();
        let mut latency = self.latency.collect();
        let hot = &self.hot;
        for (n, endpoint) in tollgate_model::paths::GATEWAY_CHECKS.iter().enumerate() {
            if let Some(f) = requests.first_mut().filter(|_| hot.gateway_ok[n].get() > 0) {
                f.mut_metric()
                    .push(hot.gateway_ok[n].counter(&[("endpoint", endpoint), ("status", "200")]));
            }
            if let Some(f) = latency.first_mut().filter(|_| hot.gateway_latency[n].get() > 0) {
                f.mut_metric()
                    .push(hot.gateway_latency[n].histogram(&[("endpoint", endpoint)]));
            }
        }
        requests.extend(latency);
        let results = [
            (INTROSPECTIONS, [(&hot.active, "active"), (&hot.inactive, "inactive")]),
            (CACHE, [(&hot.hits, "hit"), (&hot.misses, "miss")]),
        ];
        for ((name, help), series) in results {
            let metrics = series
                .iter()
                .map(|(s, result)| s.counter(&[("result", result)]))
                .collect();
            requests.push(family(name, help, MetricType::COUNTER, metrics));
        }
        requests
    }
}

const INTROSPECTIONS: (&str, &str) = ("tollgate_introspections_total", "Introspection answers by result");
const CACHE: (&str, &str) = (
    "tollgate_token_cache_lookups_total",
    "Secret lookups answered by the cache (hit) or the database (miss)",
);

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    hot: Arc<Hot>,
    granted: IntCounter,
    refused: IntCounter,
    rate_limited: IntCounterVec,
    leak_reports: IntCounterVec,
    deliveries: IntCounterVec,
    /// The outbox when `/metrics` was last read: deliveries waiting, and the oldest's age.
    pub outbox_pending: prometheus::IntGauge,
    pub outbox_oldest: prometheus::Gauge,
}

/// A gauge read from elsewhere when `/metrics` is read (whether the cache is trusted).
struct GaugeFn {
    desc: Desc,
    read: Box<dyn Fn() -> f64 + Send + Sync>,
}

impl Collector for GaugeFn {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut gauge = proto::Gauge::default();
        gauge.set_value((self.read)());
        let mut metric = proto::Metric::default();
        metric.set_gauge(gauge);
        vec![family(
            &self.desc.fq_name,
            &self.desc.help,
            MetricType::GAUGE,
            vec![metric],
        )]
    }
}

/// A counter read from elsewhere when `/metrics` is read (the store's own counts).
struct CounterFn {
    desc: Desc,
    read: Box<dyn Fn() -> f64 + Send + Sync>,
}

impl Collector for CounterFn {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut counter = proto::Counter::default();
        counter.set_value((self.read)());
        let mut metric = proto::Metric::default();
        metric.set_counter(counter);
        vec![family(
            &self.desc.fq_name,
            &self.desc.help,
            MetricType::COUNTER,
            vec![metric],
        )]
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("tollgate_http_requests_total", "HTTP requests by endpoint and status"),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(BUCKETS.to_vec()),
            &["endpoint"],
        )
        .expect("valid metric");
        let registry_tokens = IntCounterVec::new(
            Opts::new(
                "tollgate_registry_tokens_total",
                "Docker registry token requests by result",
            ),
            &["result"],
        )
        .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "tollgate_rate_limited_total",
                "Requests refused with 429 after too many failed secret checks",
            ),
            &["endpoint"],
        )
        .expect("valid metric");
        let leak_reports = IntCounterVec::new(
            Opts::new(
                "tollgate_leak_reports_total",
                "Reports of leaked secrets handled, by outcome: matched (a working secret was revoked), unmatched, failed",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let deliveries = IntCounterVec::new(
            Opts::new(
                "tollgate_webhook_deliveries_total",
                "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later), failed (no retry left)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let outbox_pending = prometheus::IntGauge::new(
            "tollgate_webhook_outbox_pending",
            "Webhook deliveries waiting to be sent (due or retrying), when /metrics was read",
        )
        .expect("valid metric");
        let outbox_oldest = prometheus::Gauge::new(
            "tollgate_webhook_outbox_oldest_seconds",
            "How long the oldest waiting webhook delivery has waited, when /metrics was read (0: none)",
        )
        .expect("valid metric");
        let build = prometheus::IntGaugeVec::new(
            Opts::new(
                "tollgate_build_info",
                "The release and commit this node runs (always 1)",
            ),
            &["version", "commit"],
        )
        .expect("valid metric");
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("TOLLGATE_COMMIT")])
            .set(1);
        let hot = Arc::new(Hot::default());
        let descs = [INTROSPECTIONS, CACHE]
            .into_iter()
            .map(|(name, help)| {
                Desc::new(
                    name.to_owned(),
                    help.to_owned(),
                    vec!["result".to_owned()],
                    Default::default(),
                )
                .expect("valid metric")
            })
            .collect();
        registry
            .register(Box::new(Gathered {
                requests: requests.clone(),
                latency: latency.clone(),
                hot: hot.clone(),
                descs,
            }))
            .expect("metric registers once");
        for collector in [&registry_tokens, &rate_limited, &leak_reports, &deliveries] {
            registry
                .register(Box::new(collector.clone()))
                .expect("metric registers once");
        }
        registry.register(Box::new(build)).expect("metric registers once");
        registry
            .register(Box::new(outbox_pending.clone()))
            .expect("metric registers once");
        registry
            .register(Box::new(outbox_oldest.clone()))
            .expect("metric registers once");
        let metrics = Metrics {
            granted: registry_tokens.with_label_values(&["granted"]),
            refused: registry_tokens.with_label_values(&["refused"]),
            registry,
            requests,
            latency,
            hot,
            rate_limited,
            leak_reports,
            deliveries,
            outbox_pending,
            outbox_oldest,
        };
        process::register(&metrics);
        metrics
    }

    /// A webhook delivery attempt ended: `delivered`, `retry` or `failed`.
    pub fn delivery(&self, outcome: &str) {
        self.deliveries.with_label_values(&[outcome]).inc();
    }

    /// Registers a counter whose value `read` gives when `/metrics` is read.
    pub fn counter_fn(&self, name: &str, help: &str, read: impl Fn() -> u64 + Send + Sync + 'static) {
        self.counter_fn_f64(name, help, move || read() as f64);
    }

    /// [`Metrics::counter_fn`] of a fractional count (seconds).
    pub fn counter_fn_f64(&self, name: &str, help: &str, read: impl Fn() -> f64 + Send + Sync + 'static) {
        let desc = Desc::new(name.to_owned(), help.to_owned(), Vec::new(), Default::default()).expect("valid metric");
        let collector = CounterFn {
            desc,
            read: Box::new(read),
        };
        if let Err(e) = self.registry.register(Box::new(collector)) {
            tracing::warn!(metric = name, error = %e, "a metric could not be registered");
        }
    }

    /// Registers a gauge whose value `read` gives when `/metrics` is read.
    pub fn gauge_fn(&self, name: &str, help: &str, read: impl Fn() -> f64 + Send + Sync + 'static) {
        let desc = Desc::new(name.to_owned(), help.to_owned(), Vec::new(), Default::default()).expect("valid metric");
        let collector = GaugeFn {
            desc,
            read: Box::new(read),
        };
        if let Err(e) = self.registry.register(Box::new(collector)) {
            tracing::warn!(metric = name, error = %e, "a metric could not be registered");
        }
    }

    /// A leak report handled: `outcome` is `matched`, `unmatched` or `failed`.
    pub fn leak_report(&self, outcome: &str) {
        self.leak_reports.with_label_values(&[outcome]).inc();
    }

    /// One answered request; `endpoint` is the route pattern, never the raw path.
    pub fn request(&self, endpoint: &str, status: &str, seconds: f64) {
        if let Some(n) = tollgate_model::paths::GATEWAY_CHECKS
            .iter()
            .position(|e| *e == endpoint)
        {
            self.hot.gateway_latency[n].observe(seconds);
            if status == "200" {
                self.hot.gateway_ok[n].inc();
            } else {
                self.requests.with_label_values(&[endpoint, status]).inc();
            }
            return;
        }
        self.requests.with_label_values(&[endpoint, status]).inc();
        self.latency.with_label_values(&[endpoint]).observe(seconds);
    }

    pub fn introspection(&self, active: bool) {
        if active { &self.hot.active } else { &self.hot.inactive }.inc();
    }

    pub fn registry_token(&self, granted: bool) {
        if granted { &self.granted } else { &self.refused }.inc();
    }

    pub fn cache_lookup(&self, hit: bool) {
        if hit { &self.hot.hits } else { &self.hot.misses }.inc();
    }

    pub fn rate_limited(&self, endpoint: &str) {
        self.rate_limited.with_label_values(&[endpoint]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .unwrap_or_default();
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The process' own figures, as Prometheus names them (Linux: read from `/proc/self`).
mod process {
    use super::Metrics;

    fn status(field: &str) -> Option<f64> {
        std::fs::read_to_string("/proc/self/status")
            .ok()?
            .lines()
            .find_map(|l| {
                l.strip_prefix(field)
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
    }

    fn cpu_seconds() -> f64 {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return 0.0;
        };
        // After the command's name (in parentheses): utime and stime are the 12th and 13th.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |n: usize| fields.get(n).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // SAFETY: sysconf reads a constant of the system.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) / per_second.max(1.0)
    }

    pub(super) fn register(metrics: &Metrics) {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics.gauge_fn(
            "process_start_time_seconds",
            "When the process started, in seconds since the epoch",
            move || started,
        );
        metrics.gauge_fn("process_resident_memory_bytes", "Resident memory, in bytes", || {
            status("VmRSS:").unwrap_or(0.0) * 1024.0
        });
        metrics.gauge_fn("process_open_fds", "Open file descriptors", || {
            std::fs::read_dir("/proc/self/fd").map_or(0.0, |d| d.count() as f64)
        });
        metrics.gauge_fn("process_threads", "Threads of the process", || {
            status("Threads:").unwrap_or(0.0)
        });
        metrics.counter_fn_f64(
            "process_cpu_seconds_total",
            "User and system CPU time spent, in seconds",
            cpu_seconds,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_series_are_summed_over_threads_into_their_families() {
        let m = Arc::new(Metrics::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.request(tollgate_model::paths::GATEWAY_CHECKS[0], "200", 0.0003);
                        m.cache_lookup(true);
                        m.introspection(true);
                    }
                    m.request(tollgate_model::paths::GATEWAY_CHECKS[0], "200", 2.0);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        m.request(tollgate_model::paths::GATEWAY_CHECKS[0], "401", 0.001);
        m.cache_lookup(false);
        let text = m.render();
        let endpoint = tollgate_model::paths::GATEWAY_CHECKS[0];
        for line in [
            format!(r#"tollgate_http_requests_total{{endpoint="{endpoint}",status="200"}} 4004"#),
            format!(r#"tollgate_http_requests_total{{endpoint="{endpoint}",status="401"}} 1"#),
            format!(r#"tollgate_http_request_duration_seconds_bucket{{endpoint="{endpoint}",le="0.00025"}} 0"#),
            format!(r#"tollgate_http_request_duration_seconds_bucket{{endpoint="{endpoint}",le="0.0005"}} 4000"#),
            format!(r#"tollgate_http_request_duration_seconds_bucket{{endpoint="{endpoint}",le="1"}} 4001"#),
            format!(r#"tollgate_http_request_duration_seconds_bucket{{endpoint="{endpoint}",le="+Inf"}} 4005"#),
            format!(r#"tollgate_http_request_duration_seconds_count{{endpoint="{endpoint}"}} 4005"#),
            r#"tollgate_introspections_total{result="active"} 4000"#.to_owned(),
            r#"tollgate_introspections_total{result="inactive"} 0"#.to_owned(),
            r#"tollgate_token_cache_lookups_total{result="hit"} 4000"#.to_owned(),
            r#"tollgate_token_cache_lookups_total{result="miss"} 1"#.to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        // The 200s and the 401 of one endpoint are one family, each series once.
        assert_eq!(text.matches("# TYPE tollgate_http_requests_total counter").count(), 1);
        let sum: f64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    r#"tollgate_http_request_duration_seconds_sum{{endpoint="{endpoint}"}} "#
                ))
            })
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - (4000.0 * 0.0003 + 4.0 * 2.0 + 0.001)).abs() < 1e-6, "{sum}");
    }
}
