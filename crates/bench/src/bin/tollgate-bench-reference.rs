//! The ceiling for `/oauth2/introspect` on this machine: a minimal actix-web server that only
//! parses the form, hashes the secret with SHA-256 and looks it up in a `HashMap`.

use actix_web::{web, App, HttpResponse, HttpServer};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

async fn introspect(known: web::Data<HashMap<[u8; 32], usize>>, body: web::Bytes) -> HttpResponse {
    let token = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let body = match known.get(&digest) {
        Some(n) => serde_json::json!({ "active": true, "sub": n }),
        None => serde_json::json!({ "active": false }),
    };
    HttpResponse::Ok().json(body)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(valid)) = (args.next(), args.next()) else {
        eprintln!("usage: tollgate-bench-reference <listen> <valid.txt>");
        std::process::exit(2);
    };
    let known: HashMap<[u8; 32], usize> = std::fs::read_to_string(valid)?
        .lines()
        .enumerate()
        .map(|(n, secret)| (Sha256::digest(secret.as_bytes()).into(), n))
        .collect();
    let known = web::Data::new(known);
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            App::new()
                .app_data(known.clone())
                .route("/oauth2/introspect", web::post().to(introspect))
        })
        .bind(listen)?
        .run(),
    )
}
