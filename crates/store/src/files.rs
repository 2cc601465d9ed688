//! Files that hold a database or secrets: a folder only its owner enters (0700) and files only
//! its owner reads (0600), whatever the process' umask; outside a container the default
//! umask would leave them readable by every user of the host.

use std::io::Write;
use std::path::Path;

/// Creates `dir` and the folders above it that are missing, each 0700. One that exists is
/// left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes a new file (never over one that exists) that only its owner may read.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    private_options(true).open(path)?.write_all(contents)
}

/// Creates an empty file that only its owner may read, unless there is one already (which is
/// left as it is): SQLite then gives its WAL and shared-memory files the same mode.
pub fn ensure_private_file(path: &Path) -> std::io::Result<()> {
    private_options(false).open(path).map(drop)
}

fn private_options(new: bool) -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}
