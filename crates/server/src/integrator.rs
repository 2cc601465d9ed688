//! `tollgate tokens …` and `tollgate service-users …`: the REST API from a shell, on the typed
//! client. The server comes from `--url` (`TOLLGATE_URL`), the bearer token from
//! `TOLLGATE_BEARER_TOKEN` only (never a flag: flags reach shell histories and `ps`).
//!
//! Output is a table for people or JSON for scripts (`--output json`). A new secret goes to
//! stdout alone (in table mode what surrounds it goes to stderr), so that
//! `SECRET=$(tollgate tokens create --name ci)` keeps exactly the secret.
//!
//! Exit codes: 0 done; 2 bad usage; 3 not signed in or not allowed (401, 403); 4 not found;
//! 5 refused input or a conflict (400, 409, 422); 6 the server or the network failed (5xx,
//! unreachable); 1 anything else.

use clap::{Args, Subcommand, ValueEnum};
use std::process::ExitCode;
use tollgate_client::{Client, ClientError};
use tollgate_model::{
    CreateServiceUser, CreateToken, IssuedToken, ServiceUser, Token, TokenKind, TokenListQuery, TokenStatus,
};

#[derive(Args)]
pub struct Remote {
    /// The Tollgate server, e.g. `https://tollgate.example.com`.
    #[arg(long, env = "TOLLGATE_URL", global = true, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// `table` for people, `json` for scripts.
    #[arg(long, value_enum, global = true, default_value = "table")]
    output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// List the tokens you may see (every token of the project for customer admins).
    List {
        /// `user` or `service`.
        #[arg(long)]
        kind: Option<String>,
        /// `active`, `expired` or `revoked`.
        #[arg(long)]
        status: Option<String>,
        /// Part of the name.
        #[arg(long)]
        search: Option<String>,
    },
    /// Generate a token: the secret is printed once, to stdout.
    Create {
        #[arg(long)]
        name: String,
        /// Make a service token for this service user (its id; customer admins).
        #[arg(long)]
        service_user: Option<String>,
        /// The token's own last day (YYYY-MM-DD); default: the subscription's end.
        #[arg(long)]
        expires_on: Option<chrono::NaiveDate>,
    },
    /// One token.
    Show { id: String },
    /// Re-generate the secret: the old one stops working at once; the new one is printed once.
    Regenerate {
        id: String,
        /// Also give the token this last day (YYYY-MM-DD), extending or shortening it.
        #[arg(long)]
        expires_on: Option<chrono::NaiveDate>,
    },
    /// Re-sync the token's products with the subscription (customer admins).
    Sync { id: String },
    /// Delete the token for good.
    Delete { id: String },
}

#[derive(Subcommand)]
pub enum ServiceUsersCommand {
    /// List the project's service users (customer admins).
    List,
    /// Create a service user.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a service user that has no tokens.
    Delete { id: String },
}

/// Why a command failed, and the exit code that says so.
struct Failure {
    code: u8,
    message: String,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        let code = match &e {
            ClientError::Api(p) => match p.status {
                401 | 403 => 3,
                404 => 4,
                400 | 409 | 413 | 415 | 422 => 5,
                s if s >= 500 => 6,
                _ => 1,
            },
            ClientError::Transport(_) => 6,
            ClientError::Decode(_) => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

fn client(remote: &Remote) -> Result<Client, Failure> {
    let bearer = std::env::var("TOLLGATE_BEARER_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or(Failure {
            code: 3,
            message: "set TOLLGATE_BEARER_TOKEN to a bearer token of your identity provider".into(),
        })?;
    Ok(Client::new(&remote.url).with_bearer(bearer.trim()))
}

fn finish(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tollgate: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn usage(message: String) -> Failure {
    Failure { code: 2, message }
}

fn json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Columns padded to their widest cell.
fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}", w = *w))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

fn token_row(t: &Token) -> Vec<String> {
    vec![
        t.id.clone(),
        t.name.clone(),
        t.kind.as_str().into(),
        match t.status {
            TokenStatus::Active => "active".into(),
            TokenStatus::Expired => "expired".into(),
            TokenStatus::Revoked => "revoked".into(),
        },
        t.created_for.name.clone(),
        t.products.iter().map(|p| p.code.as_str()).collect::<Vec<_>>().join(","),
        t.last_day().to_string(),
        if t.out_of_sync {
            "out of sync".into()
        } else {
            String::new()
        },
    ]
}

const TOKEN_HEADER: [&str; 8] = ["ID", "NAME", "KIND", "STATUS", "FOR", "PRODUCTS", "ENDS", ""];

/// A new secret: JSON on stdout, or the secret alone on stdout and the rest on stderr.
fn issued(output: Output, issued: &IssuedToken) {
    match output {
        Output::Json => json(issued),
        Output::Table => {
            eprintln!(
                "token {} ({}), registry username {}; the secret below is shown once:",
                issued.token.name, issued.token.id, issued.token.registry_username
            );
            println!("{}", issued.secret);
            eprintln!(
                "log in with: {}",
                issued.login.docker_login.replace(&issued.secret, "<secret>")
            );
        }
    }
}

pub async fn tokens(remote: Remote, command: TokensCommand) -> ExitCode {
    finish(run_tokens(&remote, command).await)
}

async fn run_tokens(remote: &Remote, command: TokensCommand) -> Result<(), Failure> {
    let client = client(remote)?;
    let out = remote.output;
    match command {
        TokensCommand::List { kind, status, search } => {
            let mut query = TokenListQuery {
                kind: kind
                    .as_deref()
                    .map(|k| TokenKind::parse(k).ok_or_else(|| usage(format!("--kind: `{k}` is not user or service"))))
                    .transpose()?,
                status: match status.as_deref() {
                    None => None,
                    Some("active") => Some(TokenStatus::Active),
                    Some("expired") => Some(TokenStatus::Expired),
                    Some("revoked") => Some(TokenStatus::Revoked),
                    Some(s) => return Err(usage(format!("--status: `{s}` is not active, expired or revoked"))),
                },
                q: search,
                limit: Some(100),
                ..Default::default()
            };
            let mut all = Vec::new();
            loop {
                let page = client.list_tokens(&query).await?;
                all.extend(page.items);
                match page.next_cursor {
                    Some(cursor) => query.cursor = Some(cursor),
                    None => break,
                }
            }
            match out {
                Output::Json => json(&all),
                Output::Table => table(&TOKEN_HEADER, all.iter().map(token_row).collect()),
            }
        }
        TokensCommand::Create {
            name,
            service_user,
            expires_on,
        } => {
            let body = CreateToken {
                name,
                kind: if service_user.is_some() {
                    TokenKind::Service
                } else {
                    TokenKind::User
                },
                service_user_id: service_user,
                expires_on,
            };
            issued(out, &client.create_token(&body).await?);
        }
        TokensCommand::Show { id } => {
            let token = client.get_token(&id).await?;
            match out {
                Output::Json => json(&token),
                Output::Table => table(&TOKEN_HEADER, vec![token_row(&token)]),
            }
        }
        TokensCommand::Regenerate { id, expires_on: None } => issued(out, &client.regenerate_secret(&id).await?),
        TokensCommand::Regenerate {
            id,
            expires_on: Some(day),
        } => {
            let body = tollgate_model::RegenerateSecret { expires_on: Some(day) };
            issued(out, &client.regenerate_secret_with(&id, &body).await?)
        }
        TokensCommand::Sync { id } => {
            let token = client.sync_products(&id).await?;
            match out {
                Output::Json => json(&token),
                Output::Table => table(&TOKEN_HEADER, vec![token_row(&token)]),
            }
        }
        TokensCommand::Delete { id } => {
            client.delete_token(&id).await?;
            if out == Output::Json {
                json(&serde_json::json!({ "deleted": id }));
            } else {
                eprintln!("deleted {id}");
            }
        }
    }
    Ok(())
}

fn service_user_row(s: &ServiceUser) -> Vec<String> {
    vec![
        s.id.clone(),
        s.name.clone(),
        s.token_count.to_string(),
        s.description.clone().unwrap_or_default(),
    ]
}

pub async fn service_users(remote: Remote, command: ServiceUsersCommand) -> ExitCode {
    finish(run_service_users(&remote, command).await)
}

async fn run_service_users(remote: &Remote, command: ServiceUsersCommand) -> Result<(), Failure> {
    let client = client(remote)?;
    let header = ["ID", "NAME", "TOKENS", "DESCRIPTION"];
    match command {
        ServiceUsersCommand::List => {
            let all = client.service_users().await?;
            match remote.output {
                Output::Json => json(&all),
                Output::Table => table(&header, all.iter().map(service_user_row).collect()),
            }
        }
        ServiceUsersCommand::Create { name, description } => {
            let made = client
                .create_service_user(&CreateServiceUser { name, description })
                .await?;
            match remote.output {
                Output::Json => json(&made),
                Output::Table => table(&header, vec![service_user_row(&made)]),
            }
        }
        ServiceUsersCommand::Delete { id } => {
            client.delete_service_user(&id).await?;
            if remote.output == Output::Json {
                json(&serde_json::json!({ "deleted": id }));
            } else {
                eprintln!("deleted {id}");
            }
        }
    }
    Ok(())
}
