#!/usr/bin/env bash
# make image: the release binary, stripped, and the shared libraries it links (with the dynamic
# loader) gathered into a root file system, then `podman build` of the Containerfile FROM
# scratch. Nothing is pulled: the libraries are this machine's, from Debian's packages.
#
# podman runs here with vfs storage, runc and no ulimits (see deploy/podman/); IMAGE names the
# result (default tollgate:0.1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${IMAGE:-tollgate:0.1.0}
target="${CARGO_TARGET_DIR:-target}"
work="$target/image"

cargo build --release -q -p tollgate-server --bin tollgate
rm -rf "$work/rootfs"
rm -rf "$work/data"
mkdir -p "$work/rootfs/usr/local/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/data"
strip -o "$work/rootfs/usr/local/bin/tollgate" "$target/release/tollgate"
# Every library the binary links, and the loader, at the paths the binary looks for them.
for lib in $(ldd "$target/release/tollgate" | awk '/=> \// { print $3 } /^\s*\/lib/ { print $1 }'); do
  mkdir -p "$work/rootfs$(dirname "$lib")"
  cp -L "$lib" "$work/rootfs$lib"
done
printf 'root:x:0:0:root:/:/sbin/nologin\ntollgate:x:65532:65532:tollgate:/data:/sbin/nologin\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\ntollgate:x:65532:\n' >"$work/rootfs/etc/group"
# The resolver reads these; without nsswitch.conf glibc still resolves through DNS and files.
printf 'hosts: files dns\n' >"$work/rootfs/etc/nsswitch.conf"
chmod 1777 "$work/rootfs/tmp"
cp Containerfile "$work/Containerfile"

. deploy/podman/env.sh
podman build --format docker -q -t "$image" -f "$work/Containerfile" "$work" >/dev/null
size=$(podman image inspect "$image" --format '{{.Size}}')
echo "image $image: $((size / 1024 / 1024)) MB ($size bytes)"
