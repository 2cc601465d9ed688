#!/usr/bin/env bash
# Builds the SPA into frontend/dist: a wasm32 release build, wasm-bindgen (exactly the version
# in Cargo.lock, installed into .tools once), wasm-opt (the npm package binaryen), content-hashed
# file names for long-lived caching, and index.html. Nothing is fetched but from the registries.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
if [ "$(.tools/bin/wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
  echo "installing wasm-bindgen-cli $version into .tools (once)"
  cargo install -q wasm-bindgen-cli --version "$version" --root .tools
fi
if [ ! -x frontend/node_modules/.bin/wasm-opt ]; then
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build -q -p tollgate-frontend --target wasm32-unknown-unknown --profile wasm-release
out=frontend/dist.new
rm -rf "$out"
mkdir -p "$out"
.tools/bin/wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$out" --out-name tollgate \
  "$target_dir/wasm32-unknown-unknown/wasm-release/tollgate-frontend.wasm"
frontend/node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/tollgate_bg.wasm" -o "$out/tollgate_bg.wasm"

hash() { sha256sum "$1" | cut -c1-16; }
wasm="tollgate-$(hash "$out/tollgate_bg.wasm").wasm"
mv "$out/tollgate_bg.wasm" "$out/$wasm"
# wasm-bindgen's inline JavaScript snippets, flattened beside the glue under content-hashed
# names (the server serves one folder, and only content-hashed names are cached for long).
if [ -d "$out/snippets" ]; then
  for f in $(cd "$out" && find snippets -name '*.js' | sort); do
    name="snippet-$(hash "$out/$f").js"
    mv "$out/$f" "$out/$name"
    sed -i "s|'./$f'|'./$name'|" "$out/tollgate.js"
  done
  rm -rf "$out/snippets"
fi
js="tollgate-$(hash "$out/tollgate.js").js"
mv "$out/tollgate.js" "$out/$js"
css="style-$(hash frontend/style.css).css"
cp frontend/style.css "$out/$css"
printf "import init from './%s';\ninit({ module_or_path: '/%s' });\n" "$js" "$wasm" >"$out/boot.js"
boot="boot-$(hash "$out/boot.js").js"
mv "$out/boot.js" "$out/$boot"
sed -e "s|@STYLE@|/$css|; s|@BOOT@|/$boot|" frontend/index.html >"$out/index.html"

rm -rf frontend/dist
mv "$out" frontend/dist
echo "SPA built: frontend/dist ($(du -sh frontend/dist | cut -f1); wasm $(gzip -9c "frontend/dist/$wasm" | wc -c) bytes gzipped)"
