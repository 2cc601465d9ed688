//! Names the commit the binary is built from, for `tollgate --version` (`TOLLGATE_COMMIT`, or
//! `git rev-parse`; "unknown" outside a checkout), and embeds the built portal
//! (`frontend/dist`, when `make web` has built it) so that the binary serves it from anywhere.

fn main() {
    embed_portal();
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

/// Writes `portal.rs` into `OUT_DIR`: the files of `frontend/dist` as `(name, bytes)`, or none.
fn embed_portal() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dist)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let path = e.path().canonicalize().ok()?.to_str()?.to_owned();
            Some((name, path))
        })
        .collect();
    files.sort();
    let mut code = String::from("/// The built portal's files, by name.\npub static PORTAL: &[(&str, &[u8])] = &[\n");
    for (name, path) in &files {
        code.push_str(&format!("    ({name:?}, include_bytes!({path:?})),\n"));
    }
    code.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("portal.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
