#!/usr/bin/env bash
# Runs the README's curl walk-through verbatim against a fresh `tollgate serve` in demo mode,
# and checks that it printed what the README says it prints.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug/tollgate"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env -u TOLLGATE_DATABASE_URL -u TOLLGATE_ISSUER TOLLGATE_DEMO=true \
TOLLGATE_LISTEN="127.0.0.1:$port" TOLLGATE_DATA_DIR="$work/data" \
  "$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

# The block between the walk-through markers of the README.
awk '/<!-- walkthrough:start -->/{on=1; next} /<!-- walkthrough:end -->/{on=0} on && !/^```/' README.md >"$work/walkthrough.sh"
[ -s "$work/walkthrough.sh" ] || { echo "README.md has no walk-through block" >&2; exit 1; }

(cd "$work" && TG="http://127.0.0.1:$port" bash -euo pipefail walkthrough.sh) >"$work/out.txt" 2>&1 || {
  cat "$work/out.txt"; echo "the README walk-through failed" >&2; exit 1; }

passed=0
failed=0
expect() {
  if grep -qE -- "$1" "$work/out.txt"; then
    echo "ok   walk-through shows: $1"; passed=$((passed + 1))
  else
    echo "FAIL walk-through does not show: $1"; failed=$((failed + 1))
  fi
}
expect '^alice	customer_admin	acme$'
expect '"role": "customer_admin"'
expect "^echo 'tgr_[0-9A-Za-z]{38}' \| docker login localhost:5000 --username 'tg-acme-[a-z0-9]{10}' --password-stdin$"
expect '"for": "ci-pipeline"'
expect '^ci pulls	service	active	ci-pipeline$'
expect '^my laptop	user	active	Alice Admin$'
expect '^new secret ends in [0-9A-Za-z]{4}$'
expect '"out_of_sync": false'
expect '^204$'
expect '	Alice Admin	token.delete	my laptop$'
expect '"code": "name_taken"'
if grep -q "tgr_" "$work/server.log"; then
  echo "FAIL a secret reached the server log"; failed=$((failed + 1))
else
  echo "ok   no secret in the server log"; passed=$((passed + 1))
fi
[ $failed -eq 0 ] || cat "$work/out.txt"
echo "readme-walkthrough: $passed passed, $failed failed"
[ $failed -eq 0 ]
