//! `/api/v1/tokens`: the token lifecycle and the permission table.

use crate::both_backends;
use crate::helpers::{Db, TestApp};
use serde_json::{json, Value};
use tollgate_store::secret::{digest, PlainSecret};

both_backends!(
    a_token_ends_on_its_own_day_before_its_subscription,
    the_subscription_caps_how_long_tokens_last,
    a_cap_added_later_holds_for_the_tokens_that_exist,
    a_customer_generates_a_token_and_sees_its_secret_once,
    an_admin_generates_a_service_token_for_a_service_user,
    a_customer_cannot_generate_a_service_token,
    a_service_user_of_another_project_is_refused,
    customers_see_their_own_tokens_and_admins_the_projects,
    a_regenerated_secret_differs_and_the_old_digest_is_gone,
    who_may_regenerate_whose_secret,
    resync_takes_the_new_subscription_and_only_admins_may,
    delete_is_permanent_and_audited,
    who_may_delete_whose_token,
    lists_filter_sort_and_page_without_gaps,
    a_name_search_finds_parts_of_names_in_the_project_only,
    an_expired_subscription_makes_tokens_expired,
    concurrent_deletes_give_one_204_and_one_404_with_one_audit_event,
    a_resync_racing_a_delete_answers_404_never_500,
    concurrent_regenerates_leave_exactly_one_valid_secret,
);

/// Searches through the trigram index (three characters or more), a shorter text, a quote in
/// the text, another project's matching name, and a deleted token's name.
async fn a_name_search_finds_parts_of_names_in_the_project_only(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    let west = app.create_token_id(&alice, "Deploy-EU-West").await;
    app.create_token_id(&bob, "deploy-us-east").await;
    app.create_token_id(&alice, r#"laptop "home""#).await;
    app.create_token_id(&carol, "deploy-eu-west-2").await;
    let found = |bearer: &str, q: &str| {
        let (app, bearer, q) = (&app, bearer.to_owned(), q.to_owned());
        async move {
            let mut names: Vec<String> = app
                .all_tokens(&bearer, &q)
                .await
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(found(&alice, "&q=eu-WE").await, ["Deploy-EU-West"]);
    assert_eq!(found(&alice, "&q=deploy").await, ["Deploy-EU-West", "deploy-us-east"]);
    assert_eq!(found(&alice, "&q=st").await, ["Deploy-EU-West", "deploy-us-east"]);
    assert_eq!(found(&alice, "&q=%22home%22").await, [r#"laptop "home""#]);
    assert!(found(&alice, "&q=west-2").await.is_empty(), "globex's token");
    assert_eq!(found(&carol, "&q=west-2").await, ["deploy-eu-west-2"]);

    app.delete(&alice, &format!("/api/v1/tokens/{west}")).await.ok(204);
    assert!(found(&alice, "&q=eu-we").await.is_empty());
    app.create_token_id(&alice, "deploy-EU-west again").await;
    assert_eq!(found(&alice, "&q=eu-we").await, ["deploy-EU-west again"]);
}

async fn a_customer_generates_a_token_and_sees_its_secret_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let bob = app.login("bob").await;
    let created = app.post(&bob, "/api/v1/tokens", json!({ "name": "  laptop  " })).await;
    let body = created.ok(201).clone();
    let token = &body["token"];
    let secret = body["secret"].as_str().unwrap();
    assert!(PlainSecret::parse(secret).is_ok(), "{secret}");
    assert_eq!(token["name"], "laptop", "the name is trimmed");
    assert_eq!(token["kind"], "user");
    assert_eq!(token["status"], "active");
    assert_eq!(token["out_of_sync"], false);
    assert_eq!(
        token["created_for"],
        json!({ "kind": "user", "id": "bob", "name": "Bob Builder" })
    );
    assert_eq!(token["created_by"]["id"], "bob");
    assert_eq!(token["secret_last4"], &secret[secret.len() - 4..]);
    let codes: Vec<&str> = token["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["wso2am", "wso2is"]);
    let username = token["registry_username"].as_str().unwrap();
    assert!(username.starts_with("tg-acme-"), "{username}");
    let login = &body["login"];
    assert_eq!(login["registry"], "registry.test:5000");
    assert_eq!(login["username"], username);
    let docker = login["docker_login"].as_str().unwrap();
    assert!(
        docker.contains("docker login registry.test:5000") && docker.contains("--password-stdin"),
        "{docker}"
    );
    assert!(docker.contains(secret) && docker.contains(username), "{docker}");
    let kubectl = login["kubernetes_pull_secret"].as_str().unwrap();
    assert!(
        kubectl.starts_with("kubectl create secret docker-registry laptop-pull --docker-server=registry.test:5000"),
        "{kubectl}"
    );
    let location = created.headers["location"].to_str().unwrap();
    assert_eq!(location, format!("/api/v1/tokens/{}", token["id"].as_str().unwrap()));
    assert_eq!(created.headers["cache-control"], "no-store");

    // Never again: not in the token, not in the list, not in the database.
    let id = token["id"].as_str().unwrap();
    let fetched = app.get(&bob, &format!("/api/v1/tokens/{id}")).await;
    assert!(!fetched.ok(200).to_string().contains(&secret[4..]));
    assert!(fetched.body.get("secret").is_none());
    assert_eq!(fetched.body["registry_username"], username);
    let listed = app.get(&bob, "/api/v1/tokens").await;
    assert!(!listed.ok(200).to_string().contains(&secret[4..]));
    let stored = app.database_text();
    assert!(!stored.contains(&secret[4..]), "the plain secret is in the database");
    assert!(
        stored.contains(&digest(secret).hex()),
        "the digest is not in the database"
    );
}

async fn an_admin_generates_a_service_token_for_a_service_user(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let ci = app.service_user_id(&alice, "ci-pipeline").await;
    let body = app
        .post(
            &alice,
            "/api/v1/tokens",
            json!({ "name": "ci pulls", "kind": "service", "service_user_id": ci }),
        )
        .await
        .ok(201)
        .clone();
    assert_eq!(body["token"]["kind"], "service");
    assert_eq!(
        body["token"]["created_for"],
        json!({ "kind": "service_user", "id": ci, "name": "ci-pipeline" })
    );
    assert_eq!(
        body["token"]["created_by"],
        json!({ "id": "alice", "name": "Alice Admin" })
    );
    let services = app.get(&alice, "/api/v1/service-users").await.ok(200).clone();
    let ci_row = services["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == ci.as_str())
        .unwrap()
        .clone();
    assert_eq!(ci_row["token_count"], 1);
    let bob = app.login("bob").await;
    assert!(
        app.all_tokens(&bob, "").await.is_empty(),
        "a customer does not see service tokens"
    );
}

async fn a_customer_cannot_generate_a_service_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob) = (app.login("alice").await, app.login("bob").await);
    let ci = app.service_user_id(&alice, "ci-pipeline").await;
    app.post(
        &bob,
        "/api/v1/tokens",
        json!({ "name": "sneaky", "kind": "service", "service_user_id": ci }),
    )
    .await
    .problem(403, "forbidden");
    assert!(app.all_tokens(&alice, "").await.is_empty());
}

async fn a_service_user_of_another_project_is_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, carol) = (app.login("alice").await, app.login("carol").await);
    let globex_bot = app
        .post(&carol, "/api/v1/service-users", json!({ "name": "globex-bot" }))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = app
        .post(
            &alice,
            "/api/v1/tokens",
            json!({ "name": "x", "kind": "service", "service_user_id": globex_bot }),
        )
        .await;
    assert_eq!(answer.problem(404, "not_found")["field"], "service_user_id");
    assert!(app.all_tokens(&alice, "").await.is_empty());
    assert!(app.all_tokens(&carol, "").await.is_empty());
}

async fn customers_see_their_own_tokens_and_admins_the_projects(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    let bobs = app.create_token_id(&bob, "bob's").await;
    let alices = app.create_token_id(&alice, "alice's").await;
    let carols = app.create_token_id(&carol, "carol's").await;

    let names = |tokens: Vec<serde_json::Value>| -> Vec<String> {
        let mut n: Vec<String> = tokens.iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect();
        n.sort();
        n
    };
    assert_eq!(names(app.all_tokens(&bob, "").await), ["bob's"]);
    assert_eq!(names(app.all_tokens(&alice, "").await), ["alice's", "bob's"]);
    assert_eq!(names(app.all_tokens(&carol, "").await), ["carol's"]);

    app.get(&bob, &format!("/api/v1/tokens/{alices}"))
        .await
        .problem(404, "not_found");
    app.get(&carol, &format!("/api/v1/tokens/{bobs}"))
        .await
        .problem(404, "not_found");
    app.get(&alice, &format!("/api/v1/tokens/{carols}"))
        .await
        .problem(404, "not_found");
    assert_eq!(
        app.get(&alice, &format!("/api/v1/tokens/{bobs}")).await.ok(200)["name"],
        "bob's"
    );
    app.get(&alice, "/api/v1/tokens/not-a-token-id")
        .await
        .problem(404, "not_found");
}

async fn a_regenerated_secret_differs_and_the_old_digest_is_gone(db: Db) {
    let app = TestApp::spawn(db).await;
    let bob = app.login("bob").await;
    let first = app.create_token(&bob, "laptop").await;
    let id = first["token"]["id"].as_str().unwrap();
    let old = first["secret"].as_str().unwrap().to_owned();

    let again = app.post_empty(&bob, &format!("/api/v1/tokens/{id}/secret")).await;
    let body = again.ok(200).clone();
    let new = body["secret"].as_str().unwrap();
    assert!(PlainSecret::parse(new).is_ok());
    assert_ne!(new, old);
    assert_eq!(body["token"]["id"], id);
    assert_eq!(
        body["token"]["registry_username"], first["token"]["registry_username"],
        "the username is stable"
    );
    assert_eq!(body["token"]["secret_last4"], &new[new.len() - 4..]);
    assert!(body["token"]["secret_regenerated_at"].is_string());
    assert!(body["login"]["docker_login"].as_str().unwrap().contains(new));
    assert_eq!(again.headers["cache-control"], "no-store");

    assert_eq!(
        app.stored_digests(),
        [digest(new).hex()],
        "the old digest is still stored"
    );
    assert!(!app.database_text().contains(&new[4..]));
    let fetched = app.get(&bob, &format!("/api/v1/tokens/{id}")).await.ok(200).clone();
    assert_eq!(fetched["secret_last4"], &new[new.len() - 4..]);
}

async fn who_may_regenerate_whose_secret(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    let bobs = app.create_token_id(&bob, "bob's").await;
    let alices = app.create_token_id(&alice, "alice's").await;
    app.post_empty(&bob, &format!("/api/v1/tokens/{alices}/secret"))
        .await
        .problem(404, "not_found");
    app.post_empty(&carol, &format!("/api/v1/tokens/{bobs}/secret"))
        .await
        .problem(404, "not_found");
    app.post_empty(&alice, &format!("/api/v1/tokens/{bobs}/secret"))
        .await
        .ok(200);
    app.post_empty(&bob, &format!("/api/v1/tokens/{bobs}/secret"))
        .await
        .ok(200);
    let regenerations = app
        .audit(&alice)
        .await
        .into_iter()
        .filter(|e| e["action"] == "token.secret.regenerate")
        .count();
    assert_eq!(regenerations, 2, "the refused attempts left no trace");
}

async fn resync_takes_the_new_subscription_and_only_admins_may(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    let bobs = app.create_token_id(&bob, "bob's").await;
    let end = app.get(&bob, "/api/v1/me").await.ok(200)["subscription"]["end_date"]
        .as_str()
        .unwrap()
        .to_owned();

    app.put_acme(&end, &["wso2am", "wso2is", "wso2mi=WSO2 Micro Integrator"]);
    let token = app.get(&bob, &format!("/api/v1/tokens/{bobs}")).await.ok(200).clone();
    assert_eq!(token["out_of_sync"], true);
    assert_eq!(token["products"].as_array().unwrap().len(), 2);

    let path = format!("/api/v1/tokens/{bobs}/products/sync");
    app.post_empty(&bob, &path).await.problem(403, "forbidden");
    app.post_empty(&carol, &path).await.problem(404, "not_found");
    let synced = app.post_empty(&alice, &path).await.ok(200).clone();
    assert_eq!(synced["out_of_sync"], false);
    let codes: Vec<&str> = synced["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["wso2am", "wso2is", "wso2mi"]);
    assert_eq!(synced["products"][2]["name"], "WSO2 Micro Integrator");

    let events = app.audit(&alice).await;
    let sync = events
        .iter()
        .find(|e| e["action"] == "token.products.sync")
        .expect("a sync event");
    assert_eq!(sync["target"]["id"], bobs.as_str());
    assert_eq!(sync["details"]["products"], json!(["wso2am", "wso2is", "wso2mi"]));
    assert_eq!(sync["details"]["products_before"], json!(["wso2am", "wso2is"]));
    assert_eq!(
        events.iter().filter(|e| e["action"] == "token.products.sync").count(),
        1
    );
}

async fn delete_is_permanent_and_audited(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob) = (app.login("alice").await, app.login("bob").await);
    let created = app.create_token(&bob, "old laptop").await;
    let id = created["token"]["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    let answer = app.delete(&bob, &format!("/api/v1/tokens/{id}")).await;
    assert_eq!(answer.status.as_u16(), 204);
    app.get(&bob, &format!("/api/v1/tokens/{id}"))
        .await
        .problem(404, "not_found");
    app.delete(&bob, &format!("/api/v1/tokens/{id}"))
        .await
        .problem(404, "not_found");
    assert!(app.all_tokens(&alice, "").await.is_empty());
    assert!(
        !app.stored_digests().contains(&digest(secret).hex()),
        "the digest outlived the token"
    );

    let events = app.audit(&alice).await;
    let deleted = events
        .iter()
        .find(|e| e["action"] == "token.delete")
        .expect("a delete event");
    assert_eq!(
        deleted["target"],
        json!({ "type": "token", "id": id, "name": "old laptop" })
    );
    assert_eq!(deleted["actor"], json!({ "id": "bob", "name": "Bob Builder" }));
    assert!(!serde_json::to_string(&events).unwrap().contains(&secret[4..]));

    // The name is free again.
    app.create_token(&bob, "old laptop").await;
}

async fn who_may_delete_whose_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob, carol) = app.everyone().await;
    let bobs = app.create_token_id(&bob, "bob's").await;
    let alices = app.create_token_id(&alice, "alice's").await;
    app.delete(&bob, &format!("/api/v1/tokens/{alices}"))
        .await
        .problem(404, "not_found");
    app.delete(&carol, &format!("/api/v1/tokens/{bobs}"))
        .await
        .problem(404, "not_found");
    assert_eq!(
        app.all_tokens(&alice, "").await.len(),
        2,
        "refused deletes deleted nothing"
    );
    assert_eq!(
        app.delete(&alice, &format!("/api/v1/tokens/{bobs}"))
            .await
            .status
            .as_u16(),
        204
    );
    assert!(app.all_tokens(&bob, "").await.is_empty());
}

async fn lists_filter_sort_and_page_without_gaps(db: Db) {
    let app = TestApp::spawn(db).await;
    let (alice, bob) = (app.login("alice").await, app.login("bob").await);
    let ci = app.service_user_id(&alice, "ci-pipeline").await;
    for name in ["Delta", "alpha", "Charlie", "echo", "Bravo"] {
        app.create_token(&alice, name).await;
    }
    app.create_token(&bob, "bob laptop").await;
    app.post(
        &alice,
        "/api/v1/tokens",
        json!({ "name": "CI 100%_done", "kind": "service", "service_user_id": ci }),
    )
    .await
    .ok(201);

    // Pages of 3 cover every token exactly once, newest first.
    let mut seen = Vec::new();
    let mut path = "/api/v1/tokens?limit=3".to_owned();
    loop {
        let page = app.get(&alice, &path).await.ok(200).clone();
        assert!(page["items"].as_array().unwrap().len() <= 3);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/tokens?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "CI 100%_done",
            "bob laptop",
            "Bravo",
            "echo",
            "Charlie",
            "alpha",
            "Delta"
        ]
    );

    let by_name: Vec<String> = app
        .all_tokens(&alice, "&sort=name")
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        by_name,
        [
            "alpha",
            "bob laptop",
            "Bravo",
            "Charlie",
            "CI 100%_done",
            "Delta",
            "echo"
        ]
    );
    let mut paged = Vec::new();
    let mut path = "/api/v1/tokens?limit=2&sort=-name".to_owned();
    loop {
        let page = app.get(&alice, &path).await.ok(200).clone();
        paged.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/tokens?limit=2&sort=-name&cursor={c}"),
            None => break,
        }
    }
    let mut reversed = by_name.clone();
    reversed.reverse();
    assert_eq!(paged, reversed);
    let oldest: Vec<String> = app
        .all_tokens(&alice, "&sort=created_at")
        .await
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(oldest.first().map(String::as_str), Some("Delta"));

    let found = |q: &'static str| {
        let app = &app;
        let alice = &alice;
        async move {
            app.all_tokens(alice, q)
                .await
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("&q=ALPHA").await, ["alpha"]);
    assert_eq!(
        found("&q=%25_").await,
        ["CI 100%_done"],
        "% and _ are searched literally"
    );
    assert_eq!(found("&kind=service").await, ["CI 100%_done"]);
    assert_eq!(found("&kind=user&q=bo").await, ["bob laptop"]);
    assert_eq!(app.all_tokens(&alice, &format!("&created_for={ci}")).await.len(), 1);
    assert_eq!(app.all_tokens(&alice, "&created_for=bob").await.len(), 1);
    assert_eq!(app.all_tokens(&alice, "&status=active").await.len(), 7);
    assert!(app.all_tokens(&alice, "&status=expired").await.is_empty());
}

async fn an_expired_subscription_makes_tokens_expired(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let id = app.create_token_id(&alice, "soon expired").await;
    app.put_acme("2020-01-31", &["wso2am", "wso2is"]);
    // The subscription's current end date holds at once: no re-sync needed.
    let expired = app.get(&alice, &format!("/api/v1/tokens/{id}")).await.ok(200).clone();
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["out_of_sync"], false);
    assert_eq!(expired["subscription_end_date"], "2020-01-31");
    assert_eq!(expired["expires_at"], "2020-02-01T00:00:00Z");
    assert_eq!(app.all_tokens(&alice, "&status=expired").await.len(), 1);
    assert!(app.all_tokens(&alice, "&status=active").await.is_empty());
}

/// Rounds of each race: enough for both orders to happen on two cores.
pub const RACES: usize = 12;

async fn concurrent_deletes_give_one_204_and_one_404_with_one_audit_event(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    for n in 0..RACES {
        let id = app.create_token_id(&alice, &format!("doomed-{n}")).await;
        let path = format!("/api/v1/tokens/{id}");
        let (first, second) = tokio::join!(app.delete(&alice, &path), app.delete(&alice, &path));
        let mut statuses = [first.status.as_u16(), second.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [204, 404], "round {n}");
        let deletes = app
            .audit(&alice)
            .await
            .into_iter()
            .filter(|e| e["action"] == "token.delete" && e["target"]["id"] == id.as_str())
            .count();
        assert_eq!(deletes, 1, "round {n}: one deletion, one audit event");
    }
}

async fn a_resync_racing_a_delete_answers_404_never_500(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    for n in 0..RACES {
        let id = app.create_token_id(&alice, &format!("raced-{n}")).await;
        let (sync_path, path) = (
            format!("/api/v1/tokens/{id}/products/sync"),
            format!("/api/v1/tokens/{id}"),
        );
        let (sync, gone) = tokio::join!(app.post_empty(&alice, &sync_path), app.delete(&alice, &path));
        assert_eq!(gone.status.as_u16(), 204, "round {n}: {}", gone.body);
        match sync.status.as_u16() {
            200 => {}
            _ => {
                sync.problem(404, "not_found");
            }
        }
    }
    assert!(app.all_tokens(&alice, "&q=raced").await.is_empty());
}

async fn concurrent_regenerates_leave_exactly_one_valid_secret(db: Db) {
    let app = TestApp::spawn(db).await;
    let bob = app.login("bob").await;
    for n in 0..RACES {
        let id = app.create_token_id(&bob, &format!("spun-{n}")).await;
        let path = format!("/api/v1/tokens/{id}/secret");
        let (x, y) = tokio::join!(app.post_empty(&bob, &path), app.post_empty(&bob, &path));
        let secrets = [x.ok(200)["secret"].clone(), y.ok(200)["secret"].clone()];
        let mut valid = 0;
        for secret in &secrets {
            if app.introspect(secret.as_str().unwrap()).await.ok(200)["active"] == true {
                valid += 1;
            }
        }
        assert_eq!(valid, 1, "round {n}: exactly one of the two new secrets works");
        let shown = app.get(&bob, &format!("/api/v1/tokens/{id}")).await.ok(200)["secret_last4"].clone();
        let winner = secrets
            .iter()
            .find(|s| s.as_str().unwrap().ends_with(shown.as_str().unwrap()))
            .expect("the token shows the last four of a secret it handed out");
        assert_eq!(app.introspect(winner.as_str().unwrap()).await.ok(200)["active"], true);
    }
}

async fn a_token_ends_on_its_own_day_before_its_subscription(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let end = app.get(&alice, "/api/v1/me").await.ok(200)["subscription"]["end_date"]
        .as_str()
        .unwrap()
        .to_owned();
    let subscription_end = chrono::NaiveDate::parse_from_str(&end, "%Y-%m-%d").unwrap();
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let create = |name: &str, expires_on: Value| {
        let (app, alice, name) = (&app, alice.clone(), name.to_owned());
        async move {
            app.post(
                &alice,
                "/api/v1/tokens",
                json!({ "name": name, "expires_on": expires_on }),
            )
            .await
        }
    };

    for bad in [
        json!(day(today - chrono::Days::new(1))),
        json!(day(subscription_end + chrono::Days::new(1))),
        json!("2030-02-30"),
    ] {
        let refused = create("bad", bad.clone()).await;
        assert_eq!(refused.problem(422, "invalid_field")["field"], "expires_on", "{bad}");
    }

    let own = today + chrono::Days::new(10);
    let made = create("short-lived", json!(day(own))).await.ok(201).clone();
    let (id, secret) = (
        made["token"]["id"].as_str().unwrap().to_owned(),
        made["secret"].as_str().unwrap().to_owned(),
    );
    assert_eq!(made["token"]["expires_on"], day(own));
    assert_eq!(made["token"]["subscription_end_date"], end.as_str());
    let ends_at = own.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert_eq!(
        made["token"]["expires_at"],
        ends_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(app.introspect(&secret).await.ok(200)["exp"], ends_at.timestamp());
    let lasting = create("lasting", Value::Null).await.ok(201).clone();
    assert!(lasting["token"]["expires_on"].is_null());

    // The subscription moved before the token's own day: the earlier one holds.
    app.put_acme_api(&day(today + chrono::Days::new(5)), &["wso2am", "wso2is"])
        .await
        .ok(200);
    let earlier = (today + chrono::Days::new(6)).and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert_eq!(app.introspect(&secret).await.ok(200)["exp"], earlier.timestamp());
    app.put_acme_api(&end, &["wso2am", "wso2is"]).await.ok(200);

    // Its own day passed (set behind the server's back, before any lookup of this secret):
    // expired at the gateway and in the lists, while the subscription runs on.
    let yesterday = create("ended", Value::Null).await.ok(201).clone();
    let ended_id = yesterday["token"]["id"].as_str().unwrap().to_owned();
    let ended_secret = yesterday["secret"].as_str().unwrap().to_owned();
    app.execute_sql(&format!(
        "UPDATE tokens SET expires_on = '{}' WHERE id = '{ended_id}'",
        day(today - chrono::Days::new(1))
    ));
    assert_eq!(app.introspect(&ended_secret).await.ok(200), &json!({ "active": false }));
    assert_eq!(
        app.get(&alice, &format!("/api/v1/tokens/{ended_id}")).await.ok(200)["status"],
        "expired"
    );
    let expired: Vec<String> = app
        .all_tokens(&alice, "&status=expired")
        .await
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(expired, std::slice::from_ref(&ended_id));
    let active = app.all_tokens(&alice, "&status=active").await;
    assert!(active.iter().any(|t| t["id"] == id.as_str()) && active.iter().all(|t| t["id"] != ended_id.as_str()));

    // Re-generating extends it: a new last day within the subscription, and active again.
    let regenerate = |body: Option<Value>| {
        let (app, alice, path) = (&app, alice.clone(), format!("/api/v1/tokens/{ended_id}/secret"));
        async move { app.send(reqwest::Method::POST, &path, Some(&alice), body).await }
    };
    for bad in [
        json!({ "expires_on": day(subscription_end + chrono::Days::new(1)) }),
        json!({ "expires_on": day(today - chrono::Days::new(1)) }),
        json!({ "ends": day(today) }),
    ] {
        regenerate(Some(bad.clone())).await.problem(422, "invalid_field");
    }
    assert_eq!(
        app.introspect(&ended_secret).await.ok(200),
        &json!({ "active": false }),
        "refusals changed nothing"
    );
    let later = today + chrono::Days::new(20);
    let renewed = regenerate(Some(json!({ "expires_on": day(later) })))
        .await
        .ok(200)
        .clone();
    assert_eq!(renewed["token"]["expires_on"], day(later));
    assert_eq!(renewed["token"]["status"], "active");
    let new_secret = renewed["secret"].as_str().unwrap();
    let ends_at = later.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert_eq!(app.introspect(new_secret).await.ok(200)["exp"], ends_at.timestamp());
    let audit = app.audit(&alice).await;
    assert_eq!(audit[0]["details"]["expires_on"], day(later));
    // Without a body it keeps its day; with `null` it ends with its subscription.
    let kept = regenerate(None).await.ok(200).clone();
    assert_eq!(kept["token"]["expires_on"], day(later));
    let lasting = regenerate(Some(json!({ "expires_on": null }))).await.ok(200).clone();
    assert!(lasting["token"]["expires_on"].is_null(), "{lasting}");
}

/// A cap given to a project after its tokens were made holds for them at once: a secret issued
/// longer ago than the cap allows stops working (the list, the API and introspection say so),
/// the others end on their issue day plus the cap, and re-generating with no body gives a
/// day within the cap, never the subscription's end.
async fn a_cap_added_later_holds_for_the_tokens_that_exist(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let end = day(today + chrono::Days::new(300));
    app.put_acme_api(&end, &["wso2am", "wso2is"]).await.ok(200);
    let old = app.create_token(&alice, "made in spring").await;
    let fresh = app.create_token(&alice, "made today").await;
    let (old_id, fresh_id) = (
        old["token"]["id"].as_str().unwrap(),
        fresh["token"]["id"].as_str().unwrap(),
    );
    let (old_secret, fresh_secret) = (old["secret"].as_str().unwrap(), fresh["secret"].as_str().unwrap());
    // Its secret was issued 60 days ago (time, moved behind the server's back).
    let issued = (chrono::Utc::now() - chrono::Duration::days(60)).naive_utc();
    app.execute_sql(&format!(
        "UPDATE tokens SET created_at = '{}' WHERE id = '{old_id}'",
        issued.format("%Y-%m-%d %H:%M:%S%.6f")
    ));
    let user = old["token"]["registry_username"].as_str().unwrap().to_owned();
    for secret in [old_secret, fresh_secret] {
        for _ in 0..2 {
            assert_eq!(
                app.introspect(secret).await.ok(200)["active"],
                true,
                "cached before the cap"
            );
        }
    }

    let operator = app.operator("olivia");
    let capped = json!({ "name": "Acme Corp", "subscription": {
        "end_date": end, "products": [{ "code": "wso2am" }, { "code": "wso2is" }], "max_token_days": 30 } });
    app.send(
        reqwest::Method::PUT,
        "/api/v1/projects/acme",
        Some(&operator),
        Some(capped),
    )
    .await
    .ok(200);

    let token = |id: &str| {
        let (app, alice, path) = (&app, alice.clone(), format!("/api/v1/tokens/{id}"));
        async move { app.get(&alice, &path).await.ok(200).clone() }
    };
    let old_token = token(old_id).await;
    assert_eq!(old_token["status"], "expired", "{old_token}");
    assert_eq!(old_token["expires_on"], day(issued.date() + chrono::Days::new(30)));
    assert_eq!(app.introspect(old_secret).await.ok(200), &json!({ "active": false }));
    let login = crate::helpers::answer(
        app.http
            .get(format!("{}/auth/token?service=tollgate-registry", app.base))
            .basic_auth(&user, Some(old_secret))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(login.status.as_u16(), 401);
    assert!(
        login.body["detail"].as_str().unwrap().contains("expired"),
        "{}",
        login.body
    );
    let expired: Vec<String> = app
        .all_tokens(&alice, "&status=expired")
        .await
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(expired, [old_id]);
    assert!(app
        .all_tokens(&alice, "&status=active")
        .await
        .iter()
        .all(|t| t["id"] != old_id));

    let in_30 = today + chrono::Days::new(30);
    let fresh_token = token(fresh_id).await;
    assert_eq!(
        (fresh_token["status"].as_str(), fresh_token["expires_on"].as_str()),
        (Some("active"), Some(day(in_30).as_str()))
    );
    let ends_at = in_30.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert_eq!(app.introspect(fresh_secret).await.ok(200)["exp"], ends_at.timestamp());

    // Re-generating with no body: a day within the cap, for both.
    for id in [old_id, fresh_id] {
        let renewed = app
            .post_empty(&alice, &format!("/api/v1/tokens/{id}/secret"))
            .await
            .ok(200)
            .clone();
        assert_eq!(renewed["token"]["expires_on"], day(in_30), "{renewed}");
        assert_eq!(renewed["token"]["status"], "active");
        let secret = renewed["secret"].as_str().unwrap();
        assert_eq!(app.introspect(secret).await.ok(200)["exp"], ends_at.timestamp());
    }
}

async fn the_subscription_caps_how_long_tokens_last(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = app.login("alice").await;
    let operator = app.operator("olivia");
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let end = day(today + chrono::Days::new(400));
    let put = |caps: Value| {
        let mut subscription = json!({ "end_date": end, "products": [{ "code": "wso2am" }, { "code": "wso2is" }] });
        for (k, v) in caps.as_object().unwrap() {
            subscription[k] = v.clone();
        }
        let (app, operator) = (&app, operator.clone());
        async move {
            app.send(
                reqwest::Method::PUT,
                "/api/v1/projects/acme",
                Some(&operator),
                Some(json!({ "name": "Acme Corp", "subscription": subscription })),
            )
            .await
        }
    };
    for (bad, field) in [
        (json!({ "max_token_days": 0 }), "subscription.max_token_days"),
        (
            json!({ "max_service_token_days": 3651 }),
            "subscription.max_service_token_days",
        ),
    ] {
        assert_eq!(put(bad).await.problem(422, "invalid_field")["field"], field);
    }
    let before = app.get(&alice, "/api/v1/me").await.ok(200).clone();
    assert!(before["subscription"].get("max_service_token_days").is_none());
    put(json!({ "max_service_token_days": 90 })).await.ok(200);
    let me = app.get(&alice, "/api/v1/me").await.ok(200).clone();
    assert_eq!(me["subscription"]["max_service_token_days"], 90);
    assert_eq!(app.audit(&alice).await[0]["details"]["max_service_token_days"], 90);

    let service_user_id = app.service_user_id(&alice, "ci-pipeline").await;
    let service = |name: &str, expires_on: Option<chrono::NaiveDate>| {
        let mut body = json!({ "name": name, "kind": "service", "service_user_id": service_user_id });
        if let Some(d) = expires_on {
            body["expires_on"] = json!(day(d));
        }
        let (app, alice) = (&app, alice.clone());
        async move { app.post(&alice, "/api/v1/tokens", body).await }
    };
    // Without a day: the cap's. Past the cap: refused, saying why.
    let capped = service("capped", None).await.ok(201).clone();
    assert_eq!(capped["token"]["expires_on"], day(today + chrono::Days::new(90)));
    let refused = service("too long", Some(today + chrono::Days::new(91))).await;
    let problem = refused.problem(422, "invalid_field");
    assert_eq!(problem["field"], "expires_on");
    assert!(
        problem["detail"].as_str().unwrap().contains("at most 90 days"),
        "{problem}"
    );
    service("shorter", Some(today + chrono::Days::new(30))).await.ok(201);
    // User tokens are not capped.
    let user = app.create_token(&alice, "laptop").await;
    assert!(user["token"]["expires_on"].is_null());

    // Re-generating extends within the same cap.
    let id = capped["token"]["id"].as_str().unwrap();
    let path = format!("/api/v1/tokens/{id}/secret");
    let regenerate = |body: Value| app.send(reqwest::Method::POST, &path, Some(&alice), Some(body));
    regenerate(json!({ "expires_on": day(today + chrono::Days::new(120)) }))
        .await
        .problem(422, "invalid_field");
    let shorter = regenerate(json!({ "expires_on": day(today + chrono::Days::new(10)) }))
        .await
        .ok(200)
        .clone();
    assert_eq!(shorter["token"]["expires_on"], day(today + chrono::Days::new(10)));
    let renewed = regenerate(json!({ "expires_on": null })).await.ok(200).clone();
    assert_eq!(
        renewed["token"]["expires_on"],
        day(today + chrono::Days::new(90)),
        "null under a cap: the cap's day"
    );

    // The cap lifted: tokens keep their days, new ones may last to the subscription's end.
    put(json!({})).await.ok(200);
    assert_eq!(
        app.get(&alice, &format!("/api/v1/tokens/{id}")).await.ok(200)["expires_on"],
        day(today + chrono::Days::new(90))
    );
    assert!(service("open", None).await.ok(201)["token"]["expires_on"].is_null());
    // The host command sets the same caps.
    app.put_acme_with(&end, &["wso2am"], &["--max-token-days", "30"]);
    assert_eq!(
        app.get(&alice, "/api/v1/me").await.ok(200)["subscription"]["max_token_days"],
        30
    );
}
