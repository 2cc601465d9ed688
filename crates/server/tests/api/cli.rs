//! `tollgate project`: operators manage projects and subscriptions, also while a server runs.

use crate::both_backends;
use crate::helpers::{Db, TestApp};

both_backends!(operators_put_and_list_projects_while_the_server_runs);

async fn operators_put_and_list_projects_while_the_server_runs(db: Db) {
    let app = TestApp::spawn(db).await;
    let out = app.cli(&[
        "project",
        "put",
        "--key",
        "initech",
        "--name",
        "Initech",
        "--end-date",
        "2027-12-31",
        "--product",
        "wso2am",
        "--product",
        "wso2apk=WSO2 APK",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8(app.cli(&["project", "list"]).stdout).unwrap();
    let initech = listed
        .lines()
        .find(|l| l.starts_with("initech\t"))
        .expect("initech is listed");
    assert_eq!(
        initech,
        "initech\tInitech\tends 2027-12-31\twso2am (WSO2 API Manager), wso2apk (WSO2 APK)"
    );
    assert!(listed.lines().any(|l| l.starts_with("acme\tAcme Corp\t")));

    let bad = app.cli(&[
        "project",
        "put",
        "--key",
        "Bad Key",
        "--name",
        "x",
        "--end-date",
        "2027-01-01",
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("key"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let bad_date = app.cli(&[
        "project",
        "put",
        "--key",
        "x",
        "--name",
        "x",
        "--end-date",
        "31/12/2027",
    ]);
    assert!(!bad_date.status.success());
    assert!(!String::from_utf8(app.cli(&["project", "list"]).stdout)
        .unwrap()
        .contains("\nx\t"));

    // Many writes from the CLI while the server writes too: all land, none fails.
    let alice = app.login("alice").await;
    let writer = {
        let url = app.database_url.clone();
        let dir = app.data_dir.path().to_path_buf();
        std::thread::spawn(move || {
            (0..5).all(|n| {
                std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
                    .args([
                        "project",
                        "put",
                        "--key",
                        &format!("p{n}"),
                        "--name",
                        "P",
                        "--end-date",
                        "2028-01-01",
                    ])
                    .env("TOLLGATE_DATABASE_URL", &url)
                    .env("TOLLGATE_DATA_DIR", &dir)
                    .status()
                    .unwrap()
                    .success()
            })
        })
    };
    for n in 0..10 {
        app.create_token(&alice, &format!("busy {n}")).await;
    }
    assert!(
        writer.join().unwrap(),
        "a CLI write failed while the server was writing"
    );
    assert_eq!(app.all_tokens(&alice, "").await.len(), 10);
    let listed = String::from_utf8(app.cli(&["project", "list"]).stdout).unwrap();
    assert_eq!(
        (0..5).filter(|n| listed.contains(&format!("p{n}\tP\t"))).count(),
        5,
        "{listed}"
    );
}
