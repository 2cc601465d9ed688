//! The migrations are embedded at build time (`embed_migrations!`): a new or changed one must
//! rebuild this crate, which cargo does not know by itself for a new folder.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
