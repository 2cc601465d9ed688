//! Usage per token: the last use and where it came from (through a trusted proxy), and pulls
//! per day for 30 days, written in batches off the request path.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use serde_json::Value;
use std::time::Duration;

both_backends!(a_tokens_pulls_per_day_and_last_client_are_shown);

async fn a_tokens_pulls_per_day_and_last_client_are_shown(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let (alice, bob, _) = app.everyone().await;
    let issued = app.create_token(&alice, "ci").await;
    let (id, secret) = (
        issued["token"]["id"].as_str().unwrap().to_owned(),
        issued["secret"].as_str().unwrap().to_owned(),
    );
    let username = issued["token"]["registry_username"].as_str().unwrap().to_owned();
    let fresh = app
        .get(&alice, &format!("/api/v1/tokens/{id}/usage"))
        .await
        .ok(200)
        .clone();
    assert_eq!(fresh["total"], 0);
    assert!(fresh["last_used_at"].is_null() && fresh["last_used_from"].is_null());

    // Three introspections for a client the gateway forwards, then a registry login.
    for _ in 0..3 {
        introspect_for(&app, &secret, "203.0.113.9").await;
    }
    let login = app
        .http
        .get(format!("{}/auth/token?service=tollgate-registry", app.base))
        .basic_auth(&username, Some(&secret))
        .header("x-forwarded-for", "198.51.100.4")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    // A wrong secret is no use.
    let refused = app
        .http
        .get(format!("{}/auth/token?service=tollgate-registry", app.base))
        .basic_auth(&username, Some("tgr_wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let today = chrono::Utc::now().date_naive();
    let usage = usage_counting(&app, &alice, &id, 4).await;
    let days = usage["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["day"], today.to_string());
    assert_eq!(days[29]["pulls"], 4);
    assert_eq!(days[0]["day"], (today - chrono::Days::new(29)).to_string());
    assert_eq!(usage["last_used_from"], "198.51.100.4", "the newest use's client");
    let token = app.get(&alice, &format!("/api/v1/tokens/{id}")).await.ok(200).clone();
    assert_eq!(token["last_used_from"], "198.51.100.4");
    assert!(token["last_used_at"].is_string());

    // Earlier days, and a day older than 30 that the housekeeping deletes.
    for (ago, pulls) in [(3, 5), (40, 9)] {
        let day = today - chrono::Days::new(ago);
        app.execute_sql(&format!(
            "INSERT INTO token_usage (token_id, day, pulls) VALUES ('{id}', '{day}', {pulls})"
        ));
    }
    let usage = app
        .get(&alice, &format!("/api/v1/tokens/{id}/usage"))
        .await
        .ok(200)
        .clone();
    assert_eq!(usage["days"][26]["pulls"], 5);
    assert_eq!(usage["total"], 9);
    let store = tollgate_store::Store::open(&app.database_url, 1).unwrap();
    assert_eq!(store.prune_usage(today - chrono::Days::new(30)).unwrap(), 1);
    let usage = app
        .get(&alice, &format!("/api/v1/tokens/{id}/usage"))
        .await
        .ok(200)
        .clone();
    assert_eq!(usage["total"], 9, "the 30 days stay");

    // Whoever may not see the token sees no usage of it either.
    app.get(&bob, &format!("/api/v1/tokens/{id}/usage"))
        .await
        .problem(404, "not_found");
    // A deleted token's usage goes with it.
    app.delete(&alice, &format!("/api/v1/tokens/{id}")).await.ok(204);
    app.get(&alice, &format!("/api/v1/tokens/{id}/usage"))
        .await
        .problem(404, "not_found");
}

both_backends!(old_days_of_many_tokens_are_deleted_in_batches_and_the_kept_days_stay);

/// Usage retention in more than one batch: three tokens' uses on 700 old days (2,100 rows,
/// so that a batch of 1,000 ends between two tokens of one day) and on a kept day. Every old
/// row goes, once, and the kept ones stay.
async fn old_days_of_many_tokens_are_deleted_in_batches_and_the_kept_days_stay(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let today = chrono::Utc::now().date_naive();
    let mut ids = Vec::new();
    for n in 0..3 {
        let issued = app.create_token(&alice, &format!("busy-{n}")).await;
        ids.push(issued["token"]["id"].as_str().unwrap().to_owned());
    }
    let mut rows = Vec::new();
    for ago in (31..731).chain([10]) {
        let day = today - chrono::Days::new(ago);
        for id in &ids {
            rows.push(format!("('{id}', '{day}', 2)"));
        }
    }
    for chunk in rows.chunks(500) {
        app.execute_sql(&format!(
            "INSERT INTO token_usage (token_id, day, pulls) VALUES {}",
            chunk.join(", ")
        ));
    }
    let store = tollgate_store::Store::open(&app.database_url, 1).unwrap();
    assert_eq!(store.prune_usage(today - chrono::Days::new(30)).unwrap(), 2100);
    assert_eq!(
        store.prune_usage(today - chrono::Days::new(30)).unwrap(),
        0,
        "nothing old is left"
    );
    for id in &ids {
        let usage = app
            .get(&alice, &format!("/api/v1/tokens/{id}/usage"))
            .await
            .ok(200)
            .clone();
        assert_eq!(usage["total"], 2, "the kept day stays: {usage}");
    }
}

both_backends!(a_token_used_again_within_the_minute_from_the_same_address_keeps_its_last_use);

/// The last use is kept to the minute: a token used again from the same address within a
/// minute of its recorded last use counts the pull and keeps the time (its row is not
/// rewritten at every flush); a use from another address is recorded at once, and so is one
/// from the same address once the recorded use is more than a minute old.
async fn a_token_used_again_within_the_minute_from_the_same_address_keeps_its_last_use(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let alice = app.login("alice").await;
    let issued = app.create_token(&alice, "ci").await;
    let (id, secret) = (
        issued["token"]["id"].as_str().unwrap().to_owned(),
        issued["secret"].as_str().unwrap().to_owned(),
    );
    introspect_for(&app, &secret, "203.0.113.9").await;
    let first = usage_counting(&app, &alice, &id, 1).await;
    assert_eq!(first["last_used_from"], "203.0.113.9");
    tokio::time::sleep(Duration::from_millis(50)).await;
    introspect_for(&app, &secret, "203.0.113.9").await;
    let again = usage_counting(&app, &alice, &id, 2).await;
    assert_eq!(
        again["last_used_at"], first["last_used_at"],
        "the same address within the minute"
    );
    assert_eq!(again["last_used_from"], "203.0.113.9");
    introspect_for(&app, &secret, "198.51.100.4").await;
    let elsewhere = usage_counting(&app, &alice, &id, 3).await;
    assert_eq!(elsewhere["last_used_from"], "198.51.100.4", "another address at once");
    let (before, after) = (
        first["last_used_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        elsewhere["last_used_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
    );
    assert!(after > before, "{before} then {after}");
    let token = app.get(&alice, &format!("/api/v1/tokens/{id}")).await.ok(200).clone();
    assert_eq!(token["last_used_at"], elsewhere["last_used_at"]);
    // A recorded use older than the minute is rewritten by a use from the same address.
    app.execute_sql(&format!(
        "UPDATE token_last_use SET used_at = '2020-01-01 00:00:00' WHERE token_id = '{id}'"
    ));
    introspect_for(&app, &secret, "198.51.100.4").await;
    let later = usage_counting(&app, &alice, &id, 4).await;
    let rewritten = later["last_used_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    assert!(
        rewritten > after,
        "a use after the minute: {rewritten}, before it {after}"
    );
    assert_eq!(later["last_used_from"], "198.51.100.4");
}

both_backends!(uses_of_tokens_evicted_and_looked_up_again_before_the_flush_are_each_counted_once);

/// A cache of one token and two tokens used in turns, forty times: each use evicts the other
/// token and looks it up again, so one token's uses are spread over many cache entries
/// before a flush. Every use is counted, once, on its own token.
async fn uses_of_tokens_evicted_and_looked_up_again_before_the_flush_are_each_counted_once(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.gateway.cache_max_tokens = 1;
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let alice = app.login("alice").await;
    let mut tokens = Vec::new();
    for name in ["a", "b"] {
        let issued = app.create_token(&alice, name).await;
        tokens.push((
            issued["token"]["id"].as_str().unwrap().to_owned(),
            issued["secret"].as_str().unwrap().to_owned(),
        ));
    }
    // In turns, so that every use evicts the other token (forty at once left the order to
    // the scheduler, which once sent all of one token's first).
    for _ in 0..20 {
        for (_, secret) in &tokens {
            introspect_for(&app, secret, "203.0.113.9").await;
        }
    }
    let misses = app.metric(r#"tollgate_token_cache_lookups_total{result="miss"}"#).await;
    assert!(
        misses >= 40.0,
        "every use evicted the other token and looked it up again: {misses} misses"
    );
    for (id, _) in &tokens {
        let usage = usage_counting(&app, &alice, id, 20).await;
        assert_eq!(usage["last_used_from"], "203.0.113.9");
    }
    // Nothing more comes later: the counts were final.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (id, _) in &tokens {
        usage_counting(&app, &alice, id, 20).await;
    }
}

/// An introspection of `secret` for the client at `address` (as the gateway forwards it):
/// active.
async fn introspect_for(app: &TestApp, secret: &str, address: &str) {
    let answer = app
        .http
        .post(format!("{}/oauth2/introspect", app.base))
        .basic_auth("registry-gateway", Some("demo-gateway-secret"))
        .header("x-forwarded-for", address)
        .form(&[("token", secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.json::<Value>().await.unwrap()["active"], true);
}

/// The token's usage once it counts `total` pulls (the flush writes in the background).
async fn usage_counting(app: &TestApp, bearer: &str, id: &str, total: u64) -> Value {
    let mut usage = Value::Null;
    for _ in 0..50 {
        usage = app
            .get(bearer, &format!("/api/v1/tokens/{id}/usage"))
            .await
            .ok(200)
            .clone();
        if usage["total"] == total {
            return usage;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the usage never counted {total} pulls: {usage}");
}

both_backends!(usage_written_while_its_tokens_are_deleted_is_skipped_without_failing);

/// A flush racing the deletion of its tokens: another node's writer (a store of its own)
/// records uses of forty tokens over and over while thirty of them are deleted, at once. A
/// token deleted before the flush's statement, or while it runs, is skipped: no flush fails
/// (a failed flush loses nothing, it is retried, but it holds back the uses of every other
/// token in it), and the ten kept tokens have every use.
async fn usage_written_while_its_tokens_are_deleted_is_skipped_without_failing(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(app.create_token_id(&alice, &format!("race-{n}")).await);
    }
    let store = tollgate_store::Store::open(&app.database_url, 2).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (ids, stop) = (ids.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            let mut failures = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Acquire) || rounds == 0 {
                let uses: Vec<tollgate_store::Use> = ids
                    .iter()
                    .map(|id| tollgate_store::Use {
                        token_id: id.clone(),
                        at: chrono::Utc::now(),
                        from: Some("203.0.113.9".into()),
                        uses: 1,
                    })
                    .collect();
                if let Err(e) = store.record_usage(&uses) {
                    failures.push(e.to_string());
                }
                rounds += 1;
                // Room for the deletions between flushes, as a node's interval leaves (a
                // writer that never pauses keeps SQLite's single write lock for itself).
                std::thread::sleep(Duration::from_millis(2));
            }
            (rounds, failures)
        })
    };
    let paths: Vec<String> = ids[10..].iter().map(|id| format!("/api/v1/tokens/{id}")).collect();
    let deletions = paths.iter().map(|path| app.delete(&alice, path));
    for answer in futures_util::future::join_all(deletions).await {
        answer.ok(204);
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let (rounds, failures) = writer.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {rounds} flushes failed: {:?}",
        failures.len(),
        failures.first()
    );
    for id in &ids[..10] {
        let usage = app
            .get(&alice, &format!("/api/v1/tokens/{id}/usage"))
            .await
            .ok(200)
            .clone();
        assert_eq!(usage["total"], rounds, "every use of a kept token");
        assert_eq!(usage["last_used_from"], "203.0.113.9");
    }
}
