//! A rolling upgrade on PostgreSQL: the previous release (built from the commit before the last
//! one that changed a migration, by `e2e/previous-release.sh`, its path in
//! `TOLLGATE_PREVIOUS_RELEASE`) serves a database; this release's binary migrates it while the
//! previous release goes on serving traffic; then both serve side by side. No request answers a
//! `5xx` at any time, and a secret re-generated or deleted on either node is refused on the other
//! within the second.

use crate::helpers::{introspect, needs, ServerProcess, PG_ADMIN_URL};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Traffic against one node until told to stop, about 40 requests a second (a debug build on
/// two cores shared with the other tests): introspections of a live secret and token lists, and
/// every tenth a token made with a last day of its own. Counts answers and keeps every 5xx.
struct Traffic {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    fn start(base: String, bearer: String, secret: String, label: &'static str) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let (s, n, f) = (stop.clone(), answered.clone(), failures.clone());
        let task = tokio::spawn(async move {
            let http = reqwest::Client::new();
            let last_day = (chrono::Utc::now().date_naive() + chrono::Days::new(20)).to_string();
            let mut i = 0usize;
            while !s.load(Ordering::Relaxed) {
                i += 1;
                let sent = match i % 10 {
                    0 | 2 | 4 | 6 | 8 => {
                        http.post(format!("{base}/oauth2/introspect"))
                            .basic_auth("registry-gateway", Some("demo-gateway-secret"))
                            .form(&[("token", secret.as_str())])
                            .send()
                            .await
                    }
                    1 | 3 | 5 | 7 => {
                        http.get(format!("{base}/api/v1/tokens?limit=20"))
                            .bearer_auth(&bearer)
                            .send()
                            .await
                    }
                    _ => {
                        http.post(format!("{base}/api/v1/tokens"))
                            .bearer_auth(&bearer)
                            .json(&json!({ "name": format!("{label} traffic {i}"), "expires_on": last_day }))
                            .send()
                            .await
                    }
                };
                match sent {
                    Ok(r) if r.status().is_server_error() => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        f.lock().unwrap().push(format!("{label} {status}: {body}"));
                    }
                    Ok(_) => {}
                    Err(e) => f.lock().unwrap().push(format!("{label}: no answer: {e}")),
                }
                n.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Traffic {
            stop,
            answered,
            failures,
            task,
        }
    }

    /// Stops the traffic: how many requests were answered, and every failure.
    async fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        let failures = self.failures.lock().unwrap().clone();
        (self.answered.load(Ordering::Relaxed), failures)
    }
}

fn query_one(database_url: &str, sql: &str) -> String {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut c = diesel::PgConnection::establish(database_url).unwrap();
    diesel::sql_query(sql).get_result::<One>(&mut c).unwrap().v
}

/// Waits until `base` refuses `secret`, at most a second after the change that retired it.
async fn refused_within_the_second(http: &reqwest::Client, base: &str, secret: &str, what: &str) {
    let changed = Instant::now();
    while introspect(http, base, secret).await.ok(200)["active"] == true {
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "{what}: accepted for a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create(node: &ServerProcess, bearer: &str, name: &str) -> (String, String) {
    let made: Value = node
        .post(Some(bearer), "/api/v1/tokens", Some(json!({ "name": name })))
        .await;
    (
        made["token"]["id"].as_str().expect("a token made").to_owned(),
        made["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_release_serves_on_while_this_one_migrates_and_beside_it() {
    let test = "the_previous_release_serves_on_while_this_one_migrates_and_beside_it";
    if !needs::postgres(test) {
        return;
    }
    let Some(previous) = needs::previous_release(test) else {
        return;
    };
    let name = format!("tollgate_upgrade_{}", uuid::Uuid::new_v4().simple());
    {
        use diesel::{Connection, RunQueryDsl};
        let mut admin = diesel::PgConnection::establish(PG_ADMIN_URL).unwrap();
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
    }
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let env = [("TOLLGATE_DATABASE_URL", url.as_str())];

    // The previous release makes the database its own and serves it.
    let old = ServerProcess::start_binary(&previous, &env, None).await;
    // The release a node runs, as its metrics say.
    let release = |base: &str| {
        let base = base.to_owned();
        async move {
            let text = crate::helpers::metrics_text(&reqwest::Client::new(), &base).await;
            text.lines()
                .find(|l| l.starts_with("tollgate_build_info"))
                .expect("tollgate_build_info")
                .to_owned()
        }
    };
    let applied_before = query_one(&url, "SELECT max(version) AS v FROM __diesel_schema_migrations");
    let alice_old = old.session("alice").await;
    let (kept_id, kept) = create(&old, &alice_old, "made by the previous release").await;
    let http = reqwest::Client::new();
    assert_eq!(introspect(&http, &old.base, &kept).await.ok(200)["active"], true);

    // This release starts beside it (sharing the signing key) and migrates, under traffic.
    let traffic = Traffic::start(old.base.clone(), alice_old.clone(), kept.clone(), "previous");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let new_env = [
        env[0],
        ("TOLLGATE_TOKEN_KEY_FILE", &old.data_file("registry-token-key.pem")),
        ("TOLLGATE_TOKEN_CERT_FILE", &old.data_file("registry-token-cert.pem")),
    ];
    let new = ServerProcess::start(&new_env, None).await;
    let applied_after = query_one(&url, "SELECT max(version) AS v FROM __diesel_schema_migrations");
    assert!(
        applied_after > applied_before,
        "this release applied no migration ({applied_before} before, {applied_after} after): \
         the previous release is not the one before the last migration change"
    );
    // Every index is valid (one built CONCURRENTLY and failed half-way would not be).
    let invalid = query_one(
        &url,
        "SELECT count(*)::text AS v FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT i.indisvalid",
    );
    assert_eq!(invalid, "0", "an index was left invalid by the migration");
    let new_traffic = Traffic::start(new.base.clone(), new.session("alice").await, kept.clone(), "current");
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Side by side: each node honours the other's tokens and changes within the second.
    let alice_new = new.session("alice").await;
    assert_ne!(
        release(&old.base).await,
        release(&new.base).await,
        "both nodes run one release"
    );
    assert_eq!(introspect(&http, &new.base, &kept).await.ok(200)["active"], true);
    let (made_new_id, made_new) = create(&new, &alice_new, "made by this release").await;
    assert_eq!(introspect(&http, &old.base, &made_new).await.ok(200)["active"], true);

    new.post(Some(&alice_new), &format!("/api/v1/tokens/{kept_id}/secret"), None)
        .await;
    refused_within_the_second(
        &http,
        &old.base,
        &kept,
        "a secret re-generated on this release, on the previous",
    )
    .await;
    old.post(Some(&alice_old), &format!("/api/v1/tokens/{made_new_id}/secret"), None)
        .await;
    refused_within_the_second(
        &http,
        &new.base,
        &made_new,
        "a secret re-generated on the previous release, on this one",
    )
    .await;

    let (gone_id, gone) = create(&old, &alice_old, "deleted by this release").await;
    assert_eq!(introspect(&http, &new.base, &gone).await.ok(200)["active"], true);
    let deleted = reqwest::Client::new()
        .delete(format!("{}/api/v1/tokens/{gone_id}", new.base))
        .bearer_auth(&alice_new)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    refused_within_the_second(
        &http,
        &old.base,
        &gone,
        "a token deleted on this release, on the previous",
    )
    .await;

    let (old_answered, old_failures) = traffic.stop().await;
    let (new_answered, new_failures) = new_traffic.stop().await;
    assert!(
        old_failures.is_empty() && new_failures.is_empty(),
        "5xx or no answer during the upgrade: {old_failures:?} {new_failures:?}"
    );
    assert!(
        old_answered > 50 && new_answered > 20,
        "too little traffic to tell: {old_answered} on the previous release, {new_answered} on this one"
    );
    // The tokens the traffic made with a last day of their own are found by it.
    let listed = new.get(&alice_new, "/api/v1/tokens?limit=100").await;
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["expires_on"].is_string()));
}
