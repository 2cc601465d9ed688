//! End to end with a real registry: CNCF Distribution (`docker-registry`) configured with
//! `auth: token` trusting Tollgate's certificate, and `skopeo` as the client.

use crate::helpers::{Db, TestApp};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use tollgate_server::gateway::forward::ForwardAuthProxy;

struct Registry {
    child: Child,
    addr: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[allow(
    clippy::zombie_processes,
    reason = "Registry kills and waits for the child when it drops"
)]
async fn start_registry(dir: &Path, storage: &Path, auth: &str) -> Registry {
    let port = free_port();
    let config = dir.join(format!("registry-{port}.yml"));
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n{auth}",
            storage.display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry is installed (apt-get install docker-registry; .ci/run does it)");
    let addr = format!("127.0.0.1:{port}");
    let listening = || std::net::TcpStream::connect(&addr).is_ok();
    if !soon(listening).await {
        panic!("docker-registry did not start");
    }
    Registry { child, addr }
}

/// Whether `ready` holds within 10 s (asked every 100 ms): a process of the test coming up.
async fn soon(ready: impl Fn() -> bool) -> bool {
    for _ in 0..100 {
        if ready() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn skopeo(args: &[&str]) -> Output {
    Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("skopeo is installed (apt-get install skopeo; .ci/run does it)")
}

fn write_blob(layout: &Path, bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    format!("sha256:{hex}")
}

/// A minimal OCI image layout (one empty layer) tagged `1.0`.
fn image_layout(layout: &Path) {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let layer = vec![0u8; 1024]; // an empty tar archive
    let layer_digest = write_blob(layout, &layer);
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
    })
    .to_string();
    let config_digest = write_blob(layout, config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len() }],
    })
    .to_string();
    let manifest_digest = write_blob(layout, manifest.as_bytes());
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": "1.0" },
        }],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
}

/// Seeds the registry's storage with two products' images, without auth.
async fn seed(work: &Path, storage: &Path, layout: &Path) {
    let open = start_registry(work, storage, "").await;
    for repo in ["wso2am/gateway", "wso2mi/integrator"] {
        let out = skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:1.0", layout.display()),
            &format!("docker://{}/{repo}:1.0", open.addr),
        ]);
        assert!(
            out.status.success(),
            "pushing {repo}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[track_caller]
fn assert_pull(out: &Output, allowed: bool, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.success(), allowed, "{what}: skopeo said {stderr}");
    if !allowed {
        let lower = stderr.to_lowercase();
        assert!(
            lower.contains("unauthorized")
                || lower.contains("denied")
                || lower.contains("401")
                || lower.contains("403"),
            "{what}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_registry_trusts_tollgate_and_skopeo_pulls_only_what_a_token_grants() {
    if !crate::helpers::needs::commands(
        "a_distribution_registry_trusts_tollgate_and_skopeo_pulls_only_what_a_token_grants",
        &["docker-registry", "skopeo"],
    ) {
        return;
    }
    let app = TestApp::spawn(Db::Sqlite).await;
    let work = tempfile::tempdir().unwrap();
    let storage = work.path().join("storage");
    let layout = work.path().join("layout");
    image_layout(&layout);

    seed(work.path(), &storage, &layout).await;

    let cert = app.data_dir.path().join("registry-token-cert.pem");
    let auth = format!(
        "auth:\n  token:\n    realm: {}/auth/token\n    service: tollgate-registry\n    issuer: tollgate\n    rootcertbundle: {}\n",
        app.base,
        cert.display()
    );
    let registry = start_registry(work.path(), &storage, &auth).await;
    a_tokens_life(&app, work.path(), &registry.addr, None).await;
}

/// What skopeo sees through the registry at `addr` over a token's life: no pull without a
/// login, a pull of a product of the token, none of another product, none with the secret
/// re-generated (the new one pulls), none once the token is deleted. `push` (a layout of the
/// image) also tries a push with a valid secret, which must be refused. The reasons Tollgate
/// gives are checked where the client shows them.
async fn a_tokens_life(app: &TestApp, work: &Path, addr: &str, push: Option<&Path>) {
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "skopeo").await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let pull = |repo: &str, password: &str, into: &str| {
        skopeo(&[
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &format!("{user}:{password}"),
            &format!("docker://{addr}/{repo}:1.0"),
            &format!("dir:{}", work.join(into).display()),
        ])
    };
    let said = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let anonymous = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{addr}/wso2am/gateway:1.0"),
    ]);
    assert_pull(&anonymous, false, "an anonymous pull");
    assert_pull(
        &pull("wso2am/gateway", &secret, "a"),
        true,
        "a pull of a product of the token",
    );
    assert!(work.join("a/manifest.json").exists(), "skopeo fetched the manifest");
    let other = pull("wso2mi/integrator", &secret, "b");
    assert_pull(&other, false, "a pull of another product");
    if push.is_some() {
        assert!(
            said(&other).contains("does not grant this repository"),
            "skopeo shows Tollgate's reason: {}",
            said(&other)
        );
    }
    if let Some(layout) = push {
        let pushed = skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("{user}:{secret}"),
            &format!("oci:{}:1.0", layout.display()),
            &format!("docker://{addr}/wso2am/gateway:pushed"),
        ]);
        assert_pull(&pushed, false, "a push");
    }

    let id = created["token"]["id"].as_str().unwrap();
    let renewed = app
        .post_empty(&alice, &format!("/api/v1/tokens/{id}/secret"))
        .await
        .ok(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = pull("wso2am/gateway", &secret, "c");
    assert_pull(&old, false, "a pull with the re-generated secret");
    if push.is_some() {
        assert!(
            said(&old).contains("re-generated"),
            "skopeo shows Tollgate's reason: {}",
            said(&old)
        );
    }
    assert_pull(
        &pull("wso2am/gateway", &renewed, "d"),
        true,
        "a pull with the new secret",
    );
    assert_eq!(
        app.delete(&alice, &format!("/api/v1/tokens/{id}"))
            .await
            .status
            .as_u16(),
        204
    );
    assert_pull(
        &pull("wso2am/gateway", &renewed, "e"),
        false,
        "a pull with a deleted token",
    );
}

/// What Distribution 3 does with a registry token (`registry/auth/token`): the `x5c` chain must
/// lead to a certificate of its `rootcertbundle` (here checked by `openssl verify`, as Go's
/// x509 does), the signature must verify with the leaf's key, and the `kid` must be the RFC
/// 7638 thumbprint of that key, as its JWKS names it. A certificate published for a key
/// rotation is in the bundle and the JWKS beside the signing one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_tokens_carry_x5c_and_a_thumbprint_kid_that_distribution_3_trusts() {
    if !crate::helpers::needs::commands(
        "registry_tokens_carry_x5c_and_a_thumbprint_kid_that_distribution_3_trusts",
        &["openssl"],
    ) {
        return;
    }
    use base64::Engine;
    use p256::ecdsa::signature::Verifier;
    let next_dir = tempfile::tempdir().unwrap();
    let next_key = next_dir.path().join("next-key.pem");
    let next_cert = next_dir.path().join("next-cert.pem");
    // The next key of a rotation: made by its own signer, published here before it signs.
    tollgate_server::gateway::registry::RegistrySigner::load_or_create(
        next_dir.path(),
        Some(next_key),
        Some(next_cert.clone()),
        &[],
        "tollgate".into(),
        300,
    )
    .unwrap();
    let published = next_cert.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.gateway.token_published_cert_files = vec![published]
    })
    .await;
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, "d3").await;
    let user = created["token"]["registry_username"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    let answer: serde_json::Value = app
        .http
        .get(format!(
            "{}/auth/token?service=tollgate-registry&scope=repository:wso2am/x:pull",
            app.base
        ))
        .basic_auth(user, Some(secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = answer["token"].as_str().unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: serde_json::Value = serde_json::from_slice(&url.decode(parts[0]).unwrap()).unwrap();
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(header["x5c"][0].as_str().expect("an x5c chain"))
        .unwrap();

    // The chain leads to the configured root bundle.
    let bundle = app
        .http
        .get(format!("{}/auth/certificate.pem", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("bundle.pem"), &bundle).unwrap();
    let leaf_pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&leaf)
    );
    std::fs::write(work.path().join("leaf.pem"), &leaf_pem).unwrap();
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(work.path().join("bundle.pem"))
        .arg(work.path().join("leaf.pem"))
        .output()
        .expect("openssl runs");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));

    // The signature verifies with the leaf's key, and the kid is that key's thumbprint, as
    // the JWKS publishes it; the next key is published too.
    let (_, key) = tollgate_server::keys::certificates(&leaf_pem).unwrap().remove(0);
    let signature = p256::ecdsa::Signature::from_slice(&url.decode(parts[2]).unwrap()).unwrap();
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the signature verifies with the x5c key");
    let kid = tollgate_server::keys::thumbprint(&key);
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(kid.len(), 43, "a base64url SHA-256");
    let jwks: serde_json::Value = app
        .http
        .get(format!("{}/auth/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    let (_, next) = tollgate_server::keys::certificates(&std::fs::read_to_string(&next_cert).unwrap())
        .unwrap()
        .remove(0);
    assert_eq!(kids, [kid, tollgate_server::keys::thumbprint(&next)]);
    assert_eq!(
        bundle.matches("BEGIN CERTIFICATE").count(),
        2,
        "the bundle has both certificates"
    );
}

/// nginx from Debian in front of a registry without auth, asking `/auth/forward` on every
/// request (`auth_request`): skopeo pulls what the token grants and is refused another
/// product, a re-generated secret and a deleted token; a push is refused even with a valid
/// secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_in_front_of_a_registry_without_auth_asks_tollgate_for_every_pull() {
    if !crate::helpers::needs::commands(
        "nginx_in_front_of_a_registry_without_auth_asks_tollgate_for_every_pull",
        &["docker-registry", "skopeo", "nginx"],
    ) {
        return;
    }
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.gateway.forward_auth_proxy = Some(ForwardAuthProxy::Nginx);
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let work = tempfile::tempdir().unwrap();
    let storage = work.path().join("storage");
    let layout = work.path().join("layout");
    image_layout(&layout);
    seed(work.path(), &storage, &layout).await;
    let registry = start_registry(work.path(), &storage, "").await;
    let nginx = Nginx::start(work.path(), &registry.addr, &app.base).await;
    // nginx passes Tollgate's reasons on (error_page with X-Tollgate-Error), and skopeo shows them.
    a_tokens_life(&app, work.path(), &nginx.addr, Some(&layout)).await;
    hostile_clients_are_refused(&app, &nginx.addr, &registry.addr).await;
}

/// Caddy from Debian (2.6) in front of a registry without auth, with `forward_auth` as the
/// docs/gateway.md shows it, and also bare (without its lines that drop a client's `X-Original-*`):
/// Caddy copies the client's own headers to the auth request, so Tollgate itself must refuse
/// what a client adds. skopeo pulls what the token grants and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_in_front_of_a_registry_without_auth_pulls_only_what_a_token_grants() {
    if !crate::helpers::needs::commands(
        "caddy_in_front_of_a_registry_without_auth_pulls_only_what_a_token_grants",
        &["docker-registry", "skopeo", "caddy"],
    ) {
        return;
    }
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.gateway.forward_auth_proxy = Some(ForwardAuthProxy::Caddy);
        c.trusted_proxies = tollgate_server::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let work = tempfile::tempdir().unwrap();
    let storage = work.path().join("storage");
    let layout = work.path().join("layout");
    image_layout(&layout);
    seed(work.path(), &storage, &layout).await;
    let registry = start_registry(work.path(), &storage, "").await;
    for as_documented in [true, false] {
        let caddy = Caddy::start(work.path(), &registry.addr, &app.base, as_documented).await;
        let pulls = work.path().join(format!("pulls-{as_documented}"));
        std::fs::create_dir_all(&pulls).unwrap();
        a_tokens_life(&app, &pulls, &caddy.addr, Some(&layout)).await;
        hostile_clients_are_refused(&app, &caddy.addr, &registry.addr).await;
    }
}

/// A token holder, through the proxy at `proxy`, adds either proxy's pair of original-request
/// headers (`X-Original-Method: GET`, `X-Original-URI: /v2/`, or the `X-Forwarded-*` twins) of
/// its own to a pull of another product, a push to a product it has, a delete of another
/// product's image and a catalog call: each is refused (403, Tollgate's answer), and the
/// registry (asked directly at `registry`) still has the image. A pull it is granted still
/// works.
async fn hostile_clients_are_refused(app: &TestApp, proxy: &str, registry: &str) {
    let alice = app.login("alice").await;
    let created = app.create_token(&alice, &format!("hostile via {proxy}")).await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let manifest = "application/vnd.oci.image.manifest.v1+json";
    let digest = http
        .head(format!("http://{registry}/v2/wso2mi/integrator/manifests/1.0"))
        .header("accept", manifest)
        .send()
        .await
        .unwrap()
        .headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned();
    let injected: [[(&str, &str); 2]; 2] = [
        [("X-Original-Method", "GET"), ("X-Original-URI", "/v2/")],
        [("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", "/v2/")],
    ];
    let attempts = [
        (
            reqwest::Method::GET,
            "/v2/wso2mi/integrator/manifests/1.0".to_owned(),
            "a pull of another product",
        ),
        (
            reqwest::Method::POST,
            "/v2/wso2am/gateway/blobs/uploads/".to_owned(),
            "a push",
        ),
        (
            reqwest::Method::DELETE,
            format!("/v2/wso2mi/integrator/manifests/{digest}"),
            "a delete",
        ),
        (reqwest::Method::GET, "/v2/_catalog".to_owned(), "the catalog"),
    ];
    for headers in injected.iter().map(Some).chain([None]) {
        for (method, path, what) in &attempts {
            let mut request = http
                .request(method.clone(), format!("http://{proxy}{path}"))
                .basic_auth(&user, Some(&secret))
                .header("accept", manifest);
            for (name, value) in headers.into_iter().flatten() {
                request = request.header(*name, *value);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(
                answer.status().as_u16(),
                403,
                "{what} with {headers:?} through {proxy}: {}",
                answer.text().await.unwrap_or_default()
            );
        }
    }
    let still_there = http
        .head(format!("http://{registry}/v2/wso2mi/integrator/manifests/1.0"))
        .header("accept", manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(
        still_there.status().as_u16(),
        200,
        "the other product's image was deleted"
    );
    let granted = http
        .get(format!("http://{proxy}/v2/wso2am/gateway/manifests/1.0"))
        .basic_auth(&user, Some(&secret))
        .header("accept", manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status().as_u16(), 200, "a granted pull");
}

/// The first code block of this kind (`nginx`, `caddyfile`) in docs/gateway.md: the
/// configuration the documentation gives is the one the tests run.
fn documented(kind: &str) -> String {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/gateway.md")).unwrap();
    let opening = format!("```{kind}\n");
    let start = page
        .find(&opening)
        .unwrap_or_else(|| panic!("docs/gateway.md has no {kind} block"))
        + opening.len();
    let end = start + page[start..].find("```").expect("the block ends");
    page[start..end].to_owned()
}

/// Caddy (Debian's), `forward_auth` as docs/gateway.md shows it (`as_documented`: with the
/// lines that drop a client's `X-Original-*`), in the foreground.
struct Caddy {
    child: Child,
    addr: String,
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Caddy {
    #[allow(
        clippy::zombie_processes,
        reason = "Caddy kills and waits for the child when it drops"
    )]
    async fn start(dir: &Path, registry: &str, tollgate: &str, as_documented: bool) -> Caddy {
        let port = free_port();
        let home = dir.join(format!("caddy-{port}"));
        std::fs::create_dir_all(&home).unwrap();
        let tollgate = tollgate.trim_start_matches("http://");
        // The site exactly as docs/gateway.md shows it (or without its `header_up` lines), on a
        // port of the test's without TLS, its upstreams this test's Tollgate and registry.
        let site: String = documented("caddyfile")
            .lines()
            .filter(|l| as_documented || !l.trim_start().starts_with("header_up"))
            .map(|l| {
                l.replace("registry.example.com", &format!("http://127.0.0.1:{port}"))
                    .replace("tollgate:8080", tollgate)
                    .replace("registry:5000", registry)
                    + "\n"
            })
            .collect();
        assert_eq!(site.contains("header_up"), as_documented, "{site}");
        let config = format!("{{\n\tadmin off\n\tauto_https off\n}}\n{site}");
        let file = home.join("Caddyfile");
        std::fs::write(&file, config).unwrap();
        let child = Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("XDG_DATA_HOME", &home)
            .env("XDG_CONFIG_HOME", &home)
            .env("HOME", &home)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(home.join("caddy.log")).unwrap())
            .spawn()
            .expect("caddy is installed (apt-get install caddy; .ci/run does it)");
        let addr = format!("127.0.0.1:{port}");
        if soon(|| std::net::TcpStream::connect(&addr).is_ok()).await {
            return Caddy { child, addr };
        }
        panic!(
            "caddy did not start: {}",
            std::fs::read_to_string(home.join("caddy.log")).unwrap_or_default()
        );
    }
}

/// nginx (Debian's), configured as docs/gateway.md shows, in the foreground.
struct Nginx {
    child: Child,
    addr: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    #[allow(
        clippy::zombie_processes,
        reason = "Nginx kills and waits for the child when it drops"
    )]
    async fn start(dir: &Path, registry: &str, tollgate: &str) -> Nginx {
        let port = free_port();
        let prefix = dir.join(format!("nginx-{port}"));
        std::fs::create_dir_all(&prefix).unwrap();
        let p = prefix.display();
        // The server block exactly as docs/gateway.md shows it, on a port of the test's and
        // without TLS, its upstreams this test's registry and Tollgate.
        let tollgate = tollgate.trim_start_matches("http://");
        let documented: String = documented("nginx")
            .lines()
            .filter(|l| !l.trim_start().starts_with("ssl_certificate"))
            .map(|l| {
                l.replace("server 127.0.0.1:5000;", &format!("server {registry};"))
                    .replace("server 127.0.0.1:8080;", &format!("server {tollgate};"))
                    .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port};"))
                    + "\n"
            })
            .collect();
        assert!(
            documented.contains(&format!("listen 127.0.0.1:{port};")),
            "{documented}"
        );
        let config = format!(
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
             {documented}}}\n"
        );
        let file = prefix.join("nginx.conf");
        std::fs::write(&file, config).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (apt-get install nginx; .ci/run does it)");
        let addr = format!("127.0.0.1:{port}");
        if soon(|| std::net::TcpStream::connect(&addr).is_ok()).await {
            return Nginx { child, addr };
        }
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default()
        );
    }
}

/// containerd (Debian's, the pull path of a Kubernetes node) with a root, state and socket of
/// its own, pulling from Distribution 2.8 that trusts Tollgate: it asks `POST /auth/token`
/// first and is answered (no `405` in Tollgate's log); another product and a re-generated
/// secret are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containerd_pulls_with_the_oauth2_token_flow() {
    if !crate::helpers::needs::commands(
        "containerd_pulls_with_the_oauth2_token_flow",
        &["docker-registry", "skopeo", "containerd", "ctr"],
    ) || !crate::helpers::needs::root("containerd_pulls_with_the_oauth2_token_flow")
    {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let log_path = work.path().join("tollgate.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let keys = work.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (key, cert) = (keys.join("key.pem"), keys.join("cert.pem"));
    let tollgate = crate::helpers::ServerProcess::start(
        &[
            ("TOLLGATE_LOG", "tollgate_server=debug,warn"),
            ("TOLLGATE_TOKEN_KEY_FILE", key.to_str().unwrap()),
            ("TOLLGATE_TOKEN_CERT_FILE", cert.to_str().unwrap()),
        ],
        Some(Stdio::from(log)),
    )
    .await;
    let storage = work.path().join("storage");
    let layout = work.path().join("layout");
    image_layout(&layout);
    seed(work.path(), &storage, &layout).await;
    let auth = format!(
        "auth:\n  token:\n    realm: {}/auth/token\n    service: tollgate-registry\n    issuer: tollgate\n    rootcertbundle: {}\n",
        tollgate.base,
        cert.display()
    );
    let registry = start_registry(work.path(), &storage, &auth).await;
    let containerd = Containerd::start(work.path()).await;

    let alice = tollgate.session("alice").await;
    let created = tollgate
        .post(Some(&alice), "/api/v1/tokens", Some(json!({ "name": "node-1" })))
        .await;
    let user = created["token"]["registry_username"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();

    let pulled = containerd.pull(&format!("{}/wso2am/gateway:1.0", registry.addr), &user, &secret);
    assert!(
        pulled.status.success(),
        "containerd pull: {}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let other = containerd.pull(&format!("{}/wso2mi/integrator:1.0", registry.addr), &user, &secret);
    assert!(!other.status.success(), "another product was pulled");
    let said = String::from_utf8_lossy(&other.stderr).to_lowercase();
    assert!(
        said.contains("401") || said.contains("403") || said.contains("unauthorized") || said.contains("denied"),
        "{said}"
    );

    tollgate
        .post(Some(&alice), &format!("/api/v1/tokens/{id}/secret"), None)
        .await;
    let old = containerd.pull(&format!("{}/wso2am/gateway:1.0", registry.addr), &user, &secret);
    assert!(!old.status.success(), "a re-generated secret pulled");
    // containerd prints the status only, never the body (skopeo and Docker print the reason).
    let said = String::from_utf8_lossy(&old.stderr);
    assert!(said.contains("401"), "{said}");

    // The log as text, without its colours.
    let coloured = std::fs::read_to_string(&log_path).unwrap();
    let mut log = String::new();
    let mut rest = coloured.as_str();
    while let Some(at) = rest.find('\u{1b}') {
        log.push_str(&rest[..at]);
        rest = rest[at..].find('m').map_or("", |end| &rest[at + end + 1..]);
    }
    log.push_str(rest);
    assert!(
        log.lines()
            .any(|l| l.contains("method=POST") && l.contains("path=/auth/token") && l.contains("status=200")),
        "containerd used POST /auth/token:\n{log}"
    );
    assert!(!log.contains("status=405"), "a 405 in Tollgate's log:\n{log}");
}

/// containerd in the foreground with a root, state and socket of its own, its CRI plugin off.
struct Containerd {
    child: Child,
    socket: std::path::PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Containerd {
    #[allow(
        clippy::zombie_processes,
        reason = "Containerd kills and waits for the child when it drops"
    )]
    async fn start(dir: &Path) -> Containerd {
        let home = dir.join("containerd");
        std::fs::create_dir_all(&home).unwrap();
        let socket = home.join("containerd.sock");
        let h = home.display();
        let config = format!(
            "version = 2\nroot = \"{h}/root\"\nstate = \"{h}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{h}/containerd.sock\"\n[ttrpc]\n  address = \"{h}/containerd.sock.ttrpc\"\n"
        );
        std::fs::write(home.join("config.toml"), config).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(home.join("config.toml"))
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(home.join("containerd.log"))
                    .map(Stdio::from)
                    .unwrap(),
            )
            .spawn()
            .expect("containerd is installed (apt-get install containerd; .ci/run does it)");
        if soon(|| socket.exists()).await {
            return Containerd { child, socket };
        }
        panic!(
            "containerd did not start (it needs root): {}",
            std::fs::read_to_string(home.join("containerd.log")).unwrap_or_default()
        );
    }

    fn pull(&self, reference: &str, user: &str, secret: &str) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(["images", "pull", "--plain-http", "--snapshotter", "native", "--user"])
            .arg(format!("{user}:{secret}"))
            .arg(reference)
            .output()
            .expect("ctr runs")
    }
}
