//! Sending webhooks: URLs checked against private addresses, Standard Webhooks signatures, and
//! the sender that takes due deliveries from the outbox (on every node that delivers, sharing
//! the work through leases), plus the expiry reminders that one node at a time looks for.

use crate::clock::Clock;
use crate::config::WebhookConfig;
use base64::Engine;
use chrono::Utc;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tollgate_store::{Attempt, Claimed, Store};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The longest URL accepted.
pub const URL_MAX: usize = 2000;

/// How much of a receiver's answer is read; the rest is dropped.
const ANSWER_CAP: usize = 64 * 1024;

/// Deliveries in flight at once per node.
const IN_FLIGHT: usize = 16;

/// Why a URL cannot be a webhook's.
pub fn check_url(text: &str, allow_private: bool) -> Result<url::Url, String> {
    if text.len() > URL_MAX {
        return Err(format!("the URL is longer than {URL_MAX} characters"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("the URL must be https (or http)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not carry credentials; verify deliveries by their signature".into());
    }
    if url.fragment().is_some() {
        return Err("the URL must not have a fragment".into());
    }
    let host = url.host().ok_or("the URL has no host")?;
    if !allow_private {
        let private = match host {
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        };
        if private {
            return Err(PRIVATE_REFUSED.into());
        }
    }
    Ok(url)
}

const PRIVATE_REFUSED: &str = "the URL points at a private, loopback or link-local address; \
    the operator allows such targets with TOLLGATE_WEBHOOK_ALLOW_PRIVATE";

/// Well-known cloud endpoints inside public ranges that answer only from within the cloud:
/// Azure's WireServer (instance metadata and agent traffic) and Alibaba Cloud's metadata.
const CLOUD_ENDPOINTS: [[u8; 4]; 2] = [[168, 63, 129, 16], [100, 100, 100, 200]];

/// Whether `ip` is an address a webhook must not reach on its own: loopback, private,
/// link-local, shared (CGNAT), unspecified, multicast, broadcast, reserved or a cloud's
/// internal endpoint, also when carried inside IPv6 (mapped, IPv4-compatible, NAT64, 6to4),
/// and the tunnelling and local-use ranges whose far end cannot be told (Teredo, local NAT64).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
                || CLOUD_ENDPOINTS.contains(&v4.octets())
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let v4_at = |at: usize| IpAddr::V4(std::net::Ipv4Addr::new(o[at], o[at + 1], o[at + 2], o[at + 3]));
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            // IPv4-compatible (::a.b.c.d, deprecated but still routed by some stacks) and
            // NAT64 (64:ff9b::/96) carry an IPv4 address in their last 32 bits.
            if segments[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_private(v4_at(12));
            }
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_private(v4_at(12));
            }
            // 6to4 (2002::/16) carries one in bits 16 to 48.
            if segments[0] == 0x2002 {
                return is_private(v4_at(2));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00
                || (segments[0] & 0xffc0) == 0xfe80
                || (segments[0] & 0xffc0) == 0xfec0
                || segments[0] == 0x2001 && segments[1] == 0x0db8
                // Teredo (2001::/32): a tunnel whose far end is an obfuscated IPv4 address.
                || segments[0] == 0x2001 && segments[1] == 0
                // Local-use NAT64 (64:ff9b:1::/48, RFC 8215): translated to who knows where.
                || segments[..3] == [0x64, 0xff9b, 1]
                // Discard-only (100::/64).
                || segments[..4] == [0x100, 0, 0, 0]
        }
    }
}

/// A new Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_signing_secret() -> String {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the system's random source works");
    format!("whsec_{}", B64.encode(key))
}

/// The `webhook-signature` of a message: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the secret's key.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = B64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .unwrap_or_default();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let tag = ring::hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", B64.encode(tag.as_ref()))
}

/// Name resolution for deliveries that drops private addresses (unless allowed), so that a
/// public name that resolves to an inside address, at once or later, reaches nothing inside.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || !is_private(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(PrivateTarget) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[derive(Debug)]
struct PrivateTarget;

impl std::fmt::Display for PrivateTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the name resolves only to private, loopback or link-local addresses")
    }
}

impl std::error::Error for PrivateTarget {}

/// This node's sender: present while the server runs; the sender's thread ends with it.
pub struct Sender(());

impl Sender {
    /// Starts the sender and the reminders on a thread of their own, off the request path.
    pub fn start(
        store: Store,
        config: &WebhookConfig,
        clock: Clock,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Arc<Sender> {
        let wake = Arc::new(tokio::sync::Notify::new());
        let sender = Arc::new(Sender(()));
        let waker = wake.clone();
        store.set_outbox_waker(Arc::new(move || waker.notify_one()));
        let work = Work {
            store,
            client: client(config),
            allow_private: config.allow_private,
            timeout: Duration::from_millis(config.timeout_ms),
            schedule: config.retry_schedule.0.clone(),
            reminder_interval: Duration::from_millis(config.reminder_interval_ms),
            clock,
            metrics,
            alive: Arc::downgrade(&sender),
            wake,
        };
        std::thread::Builder::new()
            .name("tollgate-webhooks".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the webhook runtime starts");
                runtime.block_on(work.run());
            })
            .expect("the webhook thread starts");
        sender
    }
}

fn client(config: &WebhookConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(config.timeout_ms))
        .connect_timeout(Duration::from_millis(config.timeout_ms.min(5_000)))
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: config.allow_private,
        }))
        .user_agent(concat!("Tollgate-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the webhook client builds")
}

struct Work {
    store: Store,
    client: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
    schedule: Vec<Duration>,
    reminder_interval: Duration,
    clock: Clock,
    metrics: Arc<crate::metrics::Metrics>,
    alive: Weak<Sender>,
    wake: Arc<tokio::sync::Notify>,
}

impl Work {
    async fn run(self) {
        let work = Arc::new(self);
        let reminders = tokio::spawn(work.clone().remind());
        let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        while work.alive.strong_count() > 0 {
            let free = slots.available_permits();
            if free > 0 {
                let now = Utc::now().naive_utc();
                // The lease outlasts the longest attempt with room to spare; a node that dies
                // mid-send leaves the delivery to another once it runs out.
                let lease = now + work.timeout + Duration::from_secs(30);
                let store = work.store.clone();
                let node = store.node().to_owned();
                let claimed =
                    tokio::task::spawn_blocking(move || store.claim_deliveries(&node, now, lease, free as i64))
                        .await
                        .unwrap_or_else(|e| Err(tollgate_store::StoreError::Unavailable(e.to_string())));
                match claimed {
                    Ok(claimed) => {
                        let busy = claimed.len() == free;
                        for delivery in claimed {
                            let Ok(permit) = slots.clone().acquire_owned().await else {
                                break;
                            };
                            let work = work.clone();
                            tokio::spawn(async move {
                                work.deliver(delivery).await;
                                drop(permit);
                                // A slot is free: look for the next due delivery at once.
                                work.wake.notify_one();
                            });
                        }
                        if busy {
                            tokio::task::yield_now().await;
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed; will retry"),
                }
            }
            // Other nodes' changes and retries come due without a wake-up: look every second.
            let _ = tokio::time::timeout(Duration::from_secs(1), work.wake.notified()).await;
        }
        reminders.abort();
    }

    /// One attempt of one delivery, and its outcome recorded.
    async fn deliver(&self, delivery: Claimed) {
        let started = Instant::now();
        let at = Utc::now();
        let (status, error) = self.send(&delivery, at.timestamp()).await;
        let failed = !status.is_some_and(|s| (200..300).contains(&s));
        let retry_at = match self.schedule.get(delivery.attempts.max(0) as usize) {
            Some(wait) if failed => Some(Utc::now().naive_utc() + jitter(*wait)),
            _ => None,
        };
        self.metrics.delivery(match (failed, retry_at) {
            (false, _) => "delivered",
            (true, Some(_)) => "retry",
            (true, None) => "failed",
        });
        let attempt = Attempt {
            at: at.naive_utc(),
            status,
            error,
            duration_ms: started.elapsed().as_millis() as i64,
            retry_at,
        };
        if failed {
            tracing::info!(delivery = %delivery.id, status = ?attempt.status, error = ?attempt.error,
                attempt = delivery.attempts + 1, retry = retry_at.is_some(), "webhook delivery failed");
        }
        let store = self.store.clone();
        let id = delivery.id.clone();
        let recorded = tokio::task::spawn_blocking(move || {
            let node = store.node().to_owned();
            store.finish_delivery(&id, &node, &attempt)
        })
        .await;
        match recorded {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                tracing::warn!(delivery = %delivery.id, "the delivery's lease ran out before its outcome was recorded")
            }
            Ok(Err(e)) => {
                tracing::warn!(delivery = %delivery.id, error = %e, "recording a webhook delivery failed; it is sent again when its lease runs out")
            }
            Err(e) => tracing::warn!(error = %e, "recording a webhook delivery failed"),
        }
    }

    /// Sends the message: the receiver's status, or why there is none. Errors never name the
    /// URL, which may carry a receiver's own secret in its path.
    async fn send(&self, delivery: &Claimed, timestamp: i64) -> (Option<u16>, Option<String>) {
        let url = match check_url(&delivery.url, self.allow_private) {
            Ok(url) => url,
            Err(why) => return (None, Some(why)),
        };
        // One signature per secret, space-separated, as Standard Webhooks allows: during a
        // rotation's overlap the receiver accepts the message with either secret.
        let signature = delivery
            .signing_secrets
            .iter()
            .map(|secret| sign(secret, &delivery.id, timestamp, &delivery.payload))
            .collect::<Vec<_>>()
            .join(" ");
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &delivery.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone());
        match request.send().await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                // Read a little of the answer, within the same timeout, then let it go.
                let mut read = 0;
                while read < ANSWER_CAP {
                    match response.chunk().await {
                        Ok(Some(chunk)) => read += chunk.len(),
                        _ => break,
                    }
                }
                (Some(status), None)
            }
            Err(e) => (None, Some(describe(&e, self.timeout))),
        }
    }

    /// Looks for due expiry reminders while this node holds the reminders' lease.
    async fn remind(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.reminder_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let store = self.store.clone();
            let (today, interval) = (self.clock.today(), self.reminder_interval);
            let done = tokio::task::spawn_blocking(move || {
                let now = Utc::now().naive_utc();
                let node = store.node().to_owned();
                // Held for three rounds: a node that stops leaves the work to another soon.
                if store.take_lease("expiry-reminders", &node, now, now + interval * 3)? {
                    store.send_expiry_reminders(today).map(Some)
                } else {
                    Ok(None)
                }
            })
            .await;
            match done {
                Ok(Ok(Some(n))) if n > 0 => tracing::info!(events = n, %today, "expiry reminders written"),
                Ok(Err(e)) => tracing::warn!(error = %e, "looking for expiry reminders failed; will retry"),
                _ => {}
            }
        }
    }
}

/// A wait with up to a tenth more, so that many failures at once do not retry in step.
fn jitter(wait: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    wait + wait.mul_f64(f64::from(byte[0]) / 2550.0)
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    use std::error::Error;
    let mut source = e.source();
    while let Some(inner) = source {
        if inner.is::<PrivateTarget>() {
            return PrivateTarget.to_string();
        }
        source = inner.source();
    }
    if e.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if e.is_connect() {
        "the connection to the receiver failed".into()
    } else {
        "the request failed before an answer".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_targets_are_refused() {
        for url in [
            "http://127.0.0.1/hook",
            "http://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://localhost:8080/",
            "http://api.localhost/",
        ] {
            assert_eq!(check_url(url, false).unwrap_err(), PRIVATE_REFUSED, "{url}");
            assert!(check_url(url, true).is_ok(), "{url} when allowed");
        }
        for url in [
            "https://hooks.example.com/x",
            "http://93.184.216.34/",
            "https://[2606:4700::1111]/",
        ] {
            assert!(check_url(url, false).is_ok(), "{url}");
        }
    }

    /// Every special range the guard knows, one row each: refused, and a public neighbour of it
    /// allowed (so that a row cannot pass by refusing everything).
    #[test]
    fn each_special_range_is_refused_and_its_public_neighbour_is_not() {
        #[rustfmt::skip]
        let table: &[(&str, &str, &str)] = &[
            // what,                         refused,                    public neighbour
            ("IPv4 loopback",                "127.0.0.1",                "126.255.255.255"),
            ("RFC 1918",                     "172.31.255.255",           "172.32.0.1"),
            ("link-local, cloud metadata",   "169.254.169.254",          "169.255.0.1"),
            ("CGNAT",                        "100.127.0.1",              "100.128.0.1"),
            ("this network",                 "0.1.2.3",                  "1.1.1.1"),
            ("IETF protocol assignments",    "192.0.0.8",                "192.0.1.1"),
            ("benchmarking",                 "198.18.0.1",               "198.20.0.1"),
            ("reserved",                     "240.0.0.1",                "223.255.255.1"),
            ("Azure WireServer",             "168.63.129.16",            "168.63.129.17"),
            ("Alibaba metadata",             "100.100.100.200",          "8.8.8.8"),
            ("IPv4-mapped",                  "::ffff:10.0.0.1",          "::ffff:8.8.8.8"),
            ("IPv4-compatible",              "::10.0.0.1",               "::8.8.8.8"),
            ("IPv4-compatible metadata",     "::169.254.169.254",        "::9.9.9.9"),
            ("NAT64",                        "64:ff9b::a00:1",           "64:ff9b::808:808"),
            ("local-use NAT64",              "64:ff9b:1::808:808",       "64:ff9c::1"),
            ("6to4 of a private address",    "2002:a00:1::1",            "2002:808:808::1"),
            ("6to4 of loopback",             "2002:7f00:1::",            "2003::1"),
            ("Teredo",                       "2001:0:4136:e378::1",      "2001:4860::8888"),
            ("unique local",                 "fd00:ec2::254",            "2606:4700::1111"),
            ("IPv6 link-local",              "fe80::1",                  "2a00:1450::1"),
            ("discard-only",                 "100::1",                   "101::1"),
            ("documentation",                "2001:db8::1",              "2001:db9::1"),
        ];
        for (what, refused, neighbour) in table {
            assert!(is_private(refused.parse().unwrap()), "{what}: {refused} is let through");
            assert!(
                !is_private(neighbour.parse().unwrap()),
                "{what}: {neighbour} is refused"
            );
        }
    }

    #[test]
    fn other_schemes_and_credentials_are_refused() {
        assert!(check_url("ftp://example.com/", false).is_err());
        assert!(check_url("https://user:pw@example.com/", false)
            .unwrap_err()
            .contains("credentials"));
        assert!(check_url("not a url", false).is_err());
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(URL_MAX)), false).is_err());
    }

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
