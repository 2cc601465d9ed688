#!/usr/bin/env bash
# make image: one static binary (x86_64-unknown-linux-musl; libpq and OpenSSL built from their
# sources by pq-src and openssl-src, the portal built in), with its dependency tree embedded by
# cargo auditable, in a root file system of that binary, /etc/passwd and /etc/group; then
# `podman build` of the Containerfile FROM scratch. Nothing is pulled and no library of this
# machine is copied. Beside the image: its CycloneDX SBOM (cargo cyclonedx), `tollgate.cdx.json`
# in the build folder.
#
# podman runs here with vfs storage, runc and no ulimits (see deploy/podman/); IMAGE names the
# result (default tollgate:0.1.0). An image over 25 MB fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${IMAGE:-tollgate:0.1.0}
target="${CARGO_TARGET_DIR:-target}"
triple=x86_64-unknown-linux-musl
work="$target/image"
budget=$((25 * 1000 * 1000))

for tool in cargo-auditable cargo-cyclonedx musl-gcc; do
  command -v "$tool" >/dev/null || { echo "make image needs $tool (.ci/run installs it; docs/development.md)" >&2; exit 1; }
done
rustup target list --installed 2>/dev/null | grep -qx "$triple" || rustup target add "$triple"

# musl-gcc compiles the C inside (SQLite, libpq, OpenSSL) against musl, as rustc links it, for
# size (-Os: what the C does on a request is a TLS record or a SQLite page, not the hot path).
# The binary stays position-independent (ASLR for the C inside too); its relative relocations,
# 1.3 MB as a table, are packed (DT_RELR, which the musl start-up code rustc links applies).
export CC_x86_64_unknown_linux_musl=musl-gcc CFLAGS_x86_64_unknown_linux_musl="-Os"
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C link-arg=-Wl,-z,pack-relative-relocs"
cargo auditable build -q --profile image --target "$triple" -p tollgate-server --bin tollgate
binary="$target/$triple/image/tollgate"
rm -rf "$work/rootfs" "$work/data"
mkdir -p "$work/rootfs/usr/local/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/data"
# Strip the symbols, keep the dependency tree (the `.dep-v0` section scanners read).
strip --keep-section=.dep-v0 -o "$work/rootfs/usr/local/bin/tollgate" "$binary"
if readelf -l "$work/rootfs/usr/local/bin/tollgate" | grep -q 'INTERP'; then
  echo "the binary asks for a dynamic loader: it is not static" >&2
  exit 1
fi
printf 'root:x:0:0:root:/:/sbin/nologin\ntollgate:x:65532:65532:tollgate:/data:/sbin/nologin\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\ntollgate:x:65532:\n' >"$work/rootfs/etc/group"
chmod 1777 "$work/rootfs/tmp"
cp Containerfile "$work/Containerfile"

# The SBOM of what the binary is built from, for the same target (so libpq's and OpenSSL's
# source crates are in it).
cargo cyclonedx -q --manifest-path crates/server/Cargo.toml --format json --target "$triple" \
  --describe binaries --spec-version 1.5
mv crates/server/tollgate_bin.cdx.json "$work/tollgate.cdx.json"
# It writes one beside every other binary of the workspace too (the bench's, the portal's).
find crates frontend -name '*_bin.cdx.json' -delete

. deploy/podman/env.sh
podman build --format docker -q -t "$image" -f "$work/Containerfile" "$work" >/dev/null
size=$(podman image inspect "$image" --format '{{.Size}}')
echo "image $image: $((size / 1000 / 1000)) MB ($size bytes); SBOM $work/tollgate.cdx.json"
if [ "$size" -gt "$budget" ]; then
  echo "the image is over its budget of $((budget / 1000 / 1000)) MB" >&2
  exit 1
fi
