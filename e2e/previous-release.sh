#!/usr/bin/env bash
# The previous release's binary, for the rolling-upgrade test (crates/server/tests/api/upgrade.rs):
# built from the commit before the last one that changed a migration, so that it is the release
# a database migrated by this checkout was last served by. Prints the binary's path.
#
# The sources are exported with `git archive` into the build folder and built there with a
# target folder of their own (the previous release's crates have this checkout's names), both
# kept between runs: only a new previous release is built again.
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
# A shallow clone lacks the history: fetch it (from where it was cloned) first.
if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  git fetch -q --unshallow >&2 || { echo "previous-release: this clone is shallow and its history could not be fetched" >&2; exit 1; }
fi
changed=$(git log -1 --format=%H -- migrations/sqlite migrations/postgres)
[ -n "$changed" ] || { echo "previous-release: no commit changed a migration (is this a shallow clone?)" >&2; exit 1; }
previous=$(git rev-parse --verify -q "$changed^") ||
  { echo "previous-release: $changed has no parent here (a shallow clone? fetch the history)" >&2; exit 1; }
dir="$target/previous-release"
if [ "$(cat "$dir/commit" 2>/dev/null)" != "$previous" ]; then
  echo "previous-release: building ${previous:0:12} (before ${changed:0:12}, the last migration change)" >&2
  rm -rf "$dir/src"
  mkdir -p "$dir/src"
  # -m: the files dated now, not at their commit (older than the last build's outputs, which
  # cargo would then take as up to date).
  git archive "$previous" | tar -x -m -C "$dir/src"
  echo "$previous" >"$dir/commit"
fi
(cd "$dir/src" && TOLLGATE_COMMIT="${previous:0:12}" CARGO_TARGET_DIR="$dir/target" \
  cargo build -q -p tollgate-server --bin tollgate >&2)
echo "$dir/target/debug/tollgate"
