#!/usr/bin/env bash
# make contract: the committed OpenAPI document against an independent validator, then a
# schema-driven property-based fuzzer (Schemathesis, every check) against a fresh
# `tollgate serve --demo`, as a customer admin and as a customer.
set -euo pipefail
cd "$(dirname "$0")/.."

. e2e/venv.sh

echo "== openapi-spec-validator"
"$venv/bin/openapi-spec-validator" api-spec/openapi.json

bin="${CARGO_TARGET_DIR:-target}/debug/tollgate"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Forward auth as behind nginx; the fuzzer's bearer is never a gateway client's credential, so
# their limit (10 a minute) would answer most of its introspections with 429.
env -u TOLLGATE_DATABASE_URL -u TOLLGATE_ISSUER TOLLGATE_DEMO=true TOLLGATE_LOG=warn \
  TOLLGATE_LISTEN="127.0.0.1:$port" TOLLGATE_DATA_DIR="$work/data" TOLLGATE_WEB_DIR=/nonexistent \
  TOLLGATE_FORWARD_AUTH_PROXY=nginx TOLLGATE_GATEWAY_CLIENT_FAILURES_PER_MINUTE=0 \
  "$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/readyz" && break; sleep 0.1; done

failed=0
for user in alice bob; do
  echo "== schemathesis as $user"
  bearer=$(curl -sf -X POST -H 'content-type: application/json' -d "{\"user\":\"$user\"}" \
    "$base/api/v1/demo/session" | jq -r .access_token)
  "$venv/bin/st" --no-color --config-file e2e/schemathesis.toml run api-spec/openapi.json \
    --url "$base" -H "Authorization: Bearer $bearer" --checks all >"$work/$user.txt" 2>&1 || failed=1
  sed -n '/^=* SUMMARY/,$p' "$work/$user.txt"
  if [ "$failed" -ne 0 ]; then sed -n '1,/^=* SUMMARY/p' "$work/$user.txt" | tail -n 150; break; fi
done
if grep -q 'request failed\|panicked' "$work/server.log"; then
  echo "the server logged an internal error or a panic:" >&2
  grep 'request failed\|panicked' "$work/server.log" | head -n 20 >&2
  failed=1
fi
exit "$failed"
