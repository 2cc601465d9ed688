//! Names the commit the binary is built from, for `tollgate --version` (`TOLLGATE_COMMIT`, or
//! `git rev-parse`; "unknown" outside a checkout).

fn main() {
    let commit = std::env::var("TOLLGATE_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            std::process::Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_owned())
        });
    println!(
        "cargo:rustc-env=TOLLGATE_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!("cargo:rerun-if-env-changed=TOLLGATE_COMMIT");
    // A new commit moves HEAD (or the branch it names).
    for head in ["../../.git/HEAD", "../../.git/refs/heads/main"] {
        if std::path::Path::new(head).exists() {
            println!("cargo:rerun-if-changed={head}");
        }
    }
}
