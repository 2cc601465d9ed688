//! A PostgreSQL that speaks only TLS, as managed databases with "require SSL" do: a server of
//! the test's own (Debian's binaries, run as `postgres`), with a certificate from a CA the test
//! makes (openssl) and a `pg_hba.conf` that refuses every connection without TLS. Two nodes with
//! `sslmode=verify-full` serve from their caches (the notification connection speaks TLS as the
//! pool does) and keep the one-second promise.

use crate::helpers::{introspect, needs, ServerProcess};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct TlsPostgres {
    child: Child,
    port: u16,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command) {
    let out = command.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The newest PostgreSQL server binaries of the machine.
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

impl TlsPostgres {
    #[allow(clippy::zombie_processes, reason = "killed and waited for on drop")]
    async fn start() -> TlsPostgres {
        let bin = postgres_bin().expect("PostgreSQL's server binaries in /usr/lib/postgresql");
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        run(Command::new("chown").arg("postgres:postgres").arg(&data));
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data));
        // A CA of the test's, and the server's certificate for 127.0.0.1 signed by it.
        let (ca, ca_key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        run(Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(&ca)
            .args(["-days", "2", "-subj", "/CN=tollgate test CA"]));
        let (csr, extensions) = (dir.path().join("server.csr"), dir.path().join("san.ext"));
        std::fs::write(&extensions, "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
        run(Command::new("openssl")
            .arg("req")
            .args(ec)
            .arg("-keyout")
            .arg(data.join("server.key"))
            .arg("-out")
            .arg(&csr)
            .args(["-subj", "/CN=localhost"]));
        run(Command::new("openssl")
            .args(["x509", "-req", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(&ca)
            .arg("-CAkey")
            .arg(&ca_key)
            .args(["-CAcreateserial", "-days", "2", "-out"])
            .arg(data.join("server.crt"))
            .arg("-extfile")
            .arg(&extensions));
        for file in ["server.key", "server.crt"] {
            run(Command::new("chown").arg("postgres:postgres").arg(data.join(file)));
        }
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        use std::io::Write;
        writeln!(
            conf,
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\nmax_connections = 40",
            data.display()
        )
        .unwrap();
        // TLS or nothing, over TCP.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        let child = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("postgres.log")).unwrap())
            .spawn()
            .unwrap();
        let server = TlsPostgres {
            child,
            port,
            ca,
            _dir: dir,
        };
        let from = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                from.elapsed() < Duration::from_secs(20),
                "the TLS PostgreSQL did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// A database URL with `sslmode` (and this server's CA).
    fn url(&self, database: &str, sslmode: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode={sslmode}&sslrootcert={}",
            self.port,
            self.ca.display()
        )
    }
}

/// Whether a connection with this URL is let in.
fn connects(url: &str) -> bool {
    use diesel::Connection;
    diesel::PgConnection::establish(url).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_a_tls_only_database_serve_from_their_caches_and_keep_the_second() {
    let test = "two_nodes_on_a_tls_only_database_serve_from_their_caches_and_keep_the_second";
    if !needs::root(test) || !needs::commands(test, &["openssl", "runuser"]) || postgres_bin().is_none() {
        return;
    }
    let server = TlsPostgres::start().await;
    let from = Instant::now();
    while !connects(&server.url("postgres", "verify-full")) {
        assert!(
            from.elapsed() < Duration::from_secs(20),
            "the TLS PostgreSQL does not answer"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Only TLS is let in.
    assert!(
        !connects(&server.url("postgres", "disable")),
        "a connection without TLS was let in"
    );
    {
        use diesel::RunQueryDsl;
        let mut admin = {
            use diesel::Connection;
            diesel::PgConnection::establish(&server.url("postgres", "verify-full")).unwrap()
        };
        diesel::sql_query("CREATE DATABASE tollgate")
            .execute(&mut admin)
            .unwrap();
    }
    let url = server.url("tollgate", "verify-full");
    let (a, b) = crate::helpers::two_nodes(&url).await;
    let http = reqwest::Client::new();
    // Both caches are trusted: the notification connections speak TLS and confirm their beats.
    crate::helpers::until_caches_trusted(&[&a, &b], "on a TLS-only database").await;
    let alice = a.session("alice").await;
    let created = a
        .post(Some(&alice), "/api/v1/tokens", Some(json!({ "name": "over tls" })))
        .await;
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let hits = |node: &ServerProcess| {
        let (http, base) = (http.clone(), node.base.clone());
        async move { crate::helpers::metric(&http, &base, r#"tollgate_token_cache_lookups_total{result="hit"}"#).await }
    };
    let before = hits(&b).await;
    for _ in 0..5 {
        assert_eq!(introspect(&http, &b.base, &secret).await.ok(200)["active"], true);
    }
    assert!(hits(&b).await >= before + 4.0, "node B does not answer from its cache");

    // Re-generated on A: refused on B within the second.
    a.post(Some(&alice), &format!("/api/v1/tokens/{id}/secret"), None).await;
    let changed = Instant::now();
    while introspect(&http, &b.base, &secret).await.ok(200)["active"] == true {
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "node B accepted a re-generated secret for a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
