//! The typed client against the real server (SQLite, demo mode) over real HTTP.

use tollgate_client::{Client, ClientError};
use tollgate_model::{CreateServiceUser, CreateToken, ErrorCode, TokenKind};
use tollgate_model::{TokenListQuery, TokenSort};

async fn server() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tollgate_server::Config::with("127.0.0.1:0", dir.path().to_path_buf(), None);
    config.workers = Some(2);
    config.web_dir = Some("/nonexistent".into());
    let running = tollgate_server::start(config).expect("server starts");
    let base = format!("http://{}", running.addr);
    tokio::spawn(running.server);
    (base, dir)
}

fn named(name: &str) -> CreateToken {
    CreateToken {
        name: name.into(),
        kind: TokenKind::User,
        service_user_id: None,
        expires_on: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_drives_the_whole_lifecycle_and_decodes_problems() {
    let (base, _dir) = server().await;
    let anonymous = Client::new(&base);
    let users = anonymous.demo_users().await.unwrap();
    assert_eq!(
        users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["alice", "bob", "carol"]
    );
    let alice = anonymous.with_bearer(&anonymous.demo_session("alice").await.unwrap().access_token);

    let me = alice.me().await.unwrap();
    assert_eq!(
        (me.id.as_str(), me.project.key.as_str(), me.demo_mode),
        ("alice", "acme", true)
    );

    let issued = alice.create_token(&named("laptop")).await.unwrap();
    assert!(issued.secret.starts_with("tgr_"));
    assert!(issued.login.docker_login.contains(&issued.token.registry_username));
    let id = issued.token.id.clone();

    let ci = alice
        .service_users()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == "ci-pipeline")
        .unwrap();
    let service = alice
        .create_token(&CreateToken {
            name: "ci".into(),
            kind: TokenKind::Service,
            service_user_id: Some(ci.id.clone()),
            expires_on: None,
        })
        .await
        .unwrap();
    assert_eq!(service.token.created_for.name, "ci-pipeline");

    let page = alice
        .list_tokens(&TokenListQuery {
            sort: Some(TokenSort::NameAscending),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].name, "ci");
    let next = alice
        .list_tokens(&TokenListQuery {
            sort: Some(TokenSort::NameAscending),
            cursor: page.next_cursor.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        next.items.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["laptop"]
    );

    assert_eq!(alice.get_token(&id).await.unwrap().name, "laptop");
    let renewed = alice.regenerate_secret(&id).await.unwrap();
    assert_ne!(renewed.secret, issued.secret);
    assert!(!alice.sync_products(&id).await.unwrap().out_of_sync);

    // Problems come back decoded, with the server's words.
    let taken = alice.create_token(&named("LAPTOP")).await.unwrap_err();
    assert_eq!(taken.code(), Some(ErrorCode::NameTaken));
    assert!(taken.to_string().contains("already has this name"), "{taken}");
    let bob = anonymous.with_bearer(&anonymous.demo_session("bob").await.unwrap().access_token);
    assert_eq!(bob.get_token(&id).await.unwrap_err().code(), Some(ErrorCode::NotFound));
    assert_eq!(
        bob.get_token("../../me").await.unwrap_err().code(),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        anonymous.me().await.unwrap_err().code(),
        Some(ErrorCode::Unauthenticated)
    );

    let bot = alice
        .create_service_user(&CreateServiceUser {
            name: "bot".into(),
            description: None,
        })
        .await
        .unwrap();
    alice.delete_service_user(&bot.id).await.unwrap();
    alice.delete_token(&id).await.unwrap();
    assert_eq!(
        alice.get_token(&id).await.unwrap_err().code(),
        Some(ErrorCode::NotFound)
    );
    let audit = alice.audit_events(None, Some(3)).await.unwrap();
    assert_eq!(audit.items.len(), 3);
    assert!(audit.next_cursor.is_some());

    let unreachable = Client::new("http://127.0.0.1:9").me().await.unwrap_err();
    assert!(matches!(unreachable, ClientError::Transport(_)), "{unreachable:?}");
}
