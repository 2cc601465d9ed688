//! Integration tests: the real server on a free port, against a fresh database, once on
//! SQLite and once on PostgreSQL. Modules mirror the URL tree.

mod helpers;

mod audit_events;
mod auth;
mod cli;
mod credentials;
mod errors;
mod gateway;
mod integrators;
mod logs;
mod me;
mod moving;
mod mutations;
mod nodes;
mod oidc;
mod openapi;
mod permissions;
mod pooler;
mod projects;
mod registry;
mod registry_auth;
mod serve;
mod service_users;
mod tls;
mod tokens;
mod upgrade;
mod usage;
mod webhooks;
