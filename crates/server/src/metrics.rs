//! Prometheus metrics served at `/metrics`: requests by endpoint and status, latency,
//! introspection results, registry token grants, cache hits and misses, rate limiting.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    active: IntCounter,
    inactive: IntCounter,
    granted: IntCounter,
    refused: IntCounter,
    hits: IntCounter,
    misses: IntCounter,
    rate_limited: IntCounterVec,
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
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
            &["endpoint"],
        )
        .expect("valid metric");
        let introspections = IntCounterVec::new(
            Opts::new("tollgate_introspections_total", "Introspection answers by result"),
            &["result"],
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
        let cache = IntCounterVec::new(
            Opts::new(
                "tollgate_token_cache_lookups_total",
                "Secret lookups answered by the cache (hit) or the database (miss)",
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
        for collector in [&requests, &introspections, &registry_tokens, &cache, &rate_limited] {
            registry
                .register(Box::new(collector.clone()))
                .expect("metric registers once");
        }
        registry
            .register(Box::new(latency.clone()))
            .expect("metric registers once");
        Metrics {
            active: introspections.with_label_values(&["active"]),
            inactive: introspections.with_label_values(&["inactive"]),
            granted: registry_tokens.with_label_values(&["granted"]),
            refused: registry_tokens.with_label_values(&["refused"]),
            hits: cache.with_label_values(&["hit"]),
            misses: cache.with_label_values(&["miss"]),
            registry,
            requests,
            latency,
            rate_limited,
        }
    }

    /// One answered request; `endpoint` is the route pattern, never the raw path.
    pub fn request(&self, endpoint: &str, status: &str, seconds: f64) {
        self.requests.with_label_values(&[endpoint, status]).inc();
        self.latency.with_label_values(&[endpoint]).observe(seconds);
    }

    pub fn introspection(&self, active: bool) {
        if active { &self.active } else { &self.inactive }.inc();
    }

    pub fn registry_token(&self, granted: bool) {
        if granted { &self.granted } else { &self.refused }.inc();
    }

    pub fn cache_lookup(&self, hit: bool) {
        if hit { &self.hits } else { &self.misses }.inc();
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
