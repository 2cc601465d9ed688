//! Seeds a fresh Tollgate database for `make bench`: the demo story, then N tokens for alice,
//! some of them re-generated. Writes the secrets the load generator presents:
//! `valid.txt`, `regenerated.txt` (old secrets), `unknown.txt`, `forms.txt` (password-grant
//! bodies of `POST /auth/token`), and `logins.txt`
//! (`Authorization` header values for `/auth/token`). With a webhook URL, alice's project gets a
//! webhook for every event first, so that the seeding fills the outbox as real changes do.

use base64::Engine;
use std::io::Write;
use tollgate_model::Role;
use tollgate_store::secret::PlainSecret;
use tollgate_store::{Origin, Store, TokenTarget, UserClaims};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(database), Some(out_dir), Some(count)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: tollgate-bench-seed <database-url> <out-dir> <tokens> [webhook-url]");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("a number of tokens");
    let webhook = args.next();
    let out = std::path::PathBuf::from(out_dir);
    std::fs::create_dir_all(&out).expect("the output folder");
    let store = Store::open(&database, 2).expect("the database opens");
    // The key the server will seal webhook secrets with: the data directory's, made here.
    let data_dir = std::path::Path::new(&database)
        .parent()
        .expect("the database is in a folder")
        .to_path_buf();
    let db = tollgate_server::DbConfig {
        data_dir,
        database_url: Some(database.clone()),
        ..Default::default()
    };
    store.set_sealing_keys(
        tollgate_server::SecretKeyConfig::default()
            .load(&db)
            .expect("the sealing key"),
    );
    tollgate_server::demo::seed(&store).expect("the demo seed");
    let alice = store
        .sign_in(&UserClaims {
            id: "alice".into(),
            name: "Alice Admin".into(),
            email: "alice@acme.example".into(),
            project_key: "acme".into(),
            role: Role::CustomerAdmin,
        })
        .expect("alice signs in");
    let origin = Origin {
        request_id: "bench-seed".into(),
        client_address: None,
    };
    if let Some(url) = &webhook {
        let secret = tollgate_server::webhooks::new_signing_secret();
        store
            .create_webhook(&alice, &origin, url, &tollgate_model::EventType::ALL, None, &secret)
            .expect("the webhook");
        std::fs::write(out.join("webhook-secret.txt"), &secret).expect("the webhook secret");
    }
    let file = |name: &str| std::io::BufWriter::new(std::fs::File::create(out.join(name)).expect("an output file"));
    let (mut valid, mut regenerated, mut unknown, mut logins, mut forms) = (
        file("valid.txt"),
        file("regenerated.txt"),
        file("unknown.txt"),
        file("logins.txt"),
        file("forms.txt"),
    );
    let started = std::time::Instant::now();
    for n in 0..count {
        let (token, mut secret) = store
            .create_token(
                &alice,
                &origin,
                &tollgate_model::Name::parse(&format!("bench token {n}")).expect("a valid name"),
                &TokenTarget::User,
                None,
            )
            .expect("a token");
        if n % 20 == 0 {
            writeln!(regenerated, "{}", secret.expose()).unwrap();
            secret = store
                .regenerate_secret(&alice, &origin, &token.id, None)
                .expect("re-generated")
                .1;
        }
        writeln!(valid, "{}", secret.expose()).unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            token.registry_username,
            secret.expose()
        ));
        writeln!(logins, "Basic {basic}").unwrap();
        // The OAuth2 variant's password grant (usernames and secrets need no escaping).
        writeln!(
            forms,
            "grant_type=password&service=tollgate-registry&client_id=bench&scope=repository%3Awso2am%2Fgateway%3Apull&username={}&password={}",
            token.registry_username,
            secret.expose()
        )
        .unwrap();
    }
    for _ in 0..(count / 20).max(1) {
        writeln!(unknown, "{}", PlainSecret::generate().expose()).unwrap();
    }
    for f in [&mut valid, &mut regenerated, &mut unknown, &mut logins, &mut forms] {
        f.flush().unwrap();
    }
    eprintln!("seeded {count} tokens in {:.1} s", started.elapsed().as_secs_f64());
}
