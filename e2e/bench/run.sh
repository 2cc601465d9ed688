#!/usr/bin/env bash
# make bench: a release Tollgate on a fresh SQLite database with N tokens, driven by wrk on
# /oauth2/introspect (valid, unknown and re-generated secrets), /auth/forward and /auth/token
# (GET and POST), next to the reference server that only parses, hashes and looks up, with a
# webhook receiving every event and usage counted. Prints requests/s and p50/p99.
set -euo pipefail
cd "$(dirname "$0")/../.."

tokens=${BENCH_TOKENS:-10000}
duration=${BENCH_DURATION:-15s}
connections=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
target="${CARGO_TARGET_DIR:-target}/release"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p tollgate-server -p tollgate-bench

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not ready: $1" >&2; exit 1; }

# Webhooks on: a receiver process (verifying every signature with `standardwebhooks`) gets
# every event of the seeded project; the seeding's changes fill the outbox, and the server
# delivers them before the measurements start. Usage counting is always on.
node e2e/webhooks/receiver.mjs >"$work/receiver.out" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^ready ' "$work/receiver.out" && break; sleep 0.1; done
receiver=$(sed -n 's/^ready //p' "$work/receiver.out")

echo "== seeding $tokens tokens, with a webhook for every event"
"$target/tollgate-bench-seed" "$work/data/tollgate.db" "$work" "$tokens" "$receiver/hooks/bench"
curl -s -X PUT "$receiver/control/bench" -d "{\"secret\": \"$(cat "$work/webhook-secret.txt")\", \"mode\": \"ok\"}"
expected=$((tokens + (tokens + 19) / 20))

port=$(free_port)
# As in production: request logging at info, JSON lines, to a file, failure limits at their
# defaults (the gateway's own address is never a budget). /auth/token's limit is off: the
# login mix comes from one address.
env -u TOLLGATE_DATABASE_URL -u TOLLGATE_ISSUER TOLLGATE_DEMO=true \
TOLLGATE_LISTEN="127.0.0.1:$port" TOLLGATE_DATA_DIR="$work/data" \
TOLLGATE_LOG=info TOLLGATE_LOG_FORMAT=json TOLLGATE_TOKEN_FAILURES_PER_MINUTE=0 TOLLGATE_WEBHOOK_ALLOW_PRIVATE=true \
TOLLGATE_FORWARD_AUTH_PROXY=nginx TOLLGATE_REVOCATION_REPORTS_PER_MINUTE=0 \
  "$target/tollgate" serve 2>"$work/tollgate.log" &
pids+=($!)
ref_port=$(free_port)
"$target/tollgate-bench-reference" "127.0.0.1:$ref_port" "$work/valid.txt" &
pids+=($!)
wait_ready "http://127.0.0.1:$port/readyz"
wait_ready "http://127.0.0.1:$ref_port/"

received() { curl -s "$receiver/received" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r), sum(1 for x in r if x["verified"]))'; }
echo "== delivering the seeding's $expected webhook events"
for _ in $(seq 1 600); do
  read -r got verified <<<"$(received)"
  [ "$got" -ge "$expected" ] && break
  sleep 0.5
done
echo "webhook deliveries received: $got of $expected, $verified verified by standardwebhooks"
[ "$got" -ge "$expected" ] && [ "$verified" -eq "$got" ] || { echo "the webhook deliveries did not all arrive verified" >&2; exit 1; }

export BENCH_DIR=$work GATEWAY_BASIC
GATEWAY_BASIC=$(printf 'registry-gateway:demo-gateway-secret' | base64)

run() { # name url script [threads connections]
  wrk -t"${4:-$threads}" -c"${5:-$connections}" -d"$duration" --latency -s "e2e/bench/$3" "$2" >"$work/$1.txt"
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$1.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$1.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$1.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/$1.txt"); non2xx=${non2xx:-0}
  printf '%-28s %12s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "$non2xx"
  eval "${1//-/_}_rps=$rps"
}

echo "== warm-up"
wrk -t"$threads" -c"$connections" -d3s -s e2e/bench/introspect.lua "http://127.0.0.1:$port" >/dev/null
wrk -t"$threads" -c"$connections" -d3s -s e2e/bench/introspect.lua "http://127.0.0.1:$ref_port" >/dev/null

echo "== $duration each, $threads wrk threads, $connections connections, on $(nproc) cores shared with the server"
run reference-introspect "http://127.0.0.1:$ref_port" introspect.lua
run tollgate-introspect "http://127.0.0.1:$port" introspect.lua
run tollgate-forward "http://127.0.0.1:$port" forward.lua
run tollgate-token "http://127.0.0.1:$port" token.lua
run tollgate-token-post "http://127.0.0.1:$port" token-post.lua
ratio=$(awk -v a="$tollgate_introspect_rps" -v b="$reference_introspect_rps" 'BEGIN { printf "%.2f", a / b }')
forward_ratio=$(awk -v a="$tollgate_forward_rps" -v b="$reference_introspect_rps" 'BEGIN { printf "%.2f", a / b }')
echo "introspection / reference: $ratio (target at least 0.8, p99 under 10 ms); /auth/token target at least 10000 req/s"
echo "forward auth / reference: $forward_ratio (target at least 0.8)"

echo "== valid secrets alone, then the same client beside a junk flood from one address (half the connections each)"
half=$((connections / 2))
run valid-alone "http://127.0.0.1:$port" introspect-valid.lua 1 "$half"
wrk -t1 -c"$half" -d"$duration" -s e2e/bench/junk.lua "http://127.0.0.1:$port" >"$work/junk.txt" &
junk=$!
run valid-beside-junk "http://127.0.0.1:$port" introspect-valid.lua 1 "$half"
wait "$junk"
junk_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/junk.txt")
refused=$(awk '/Non-2xx/ {print $NF}' "$work/valid-beside-junk.txt"); refused=${refused:-0}
flood_ratio=$(awk -v a="$valid_beside_junk_rps" -v b="$valid_alone_rps" 'BEGIN { printf "%.2f", a / b }')
echo "junk flood: $junk_rps req/s; valid beside it / valid alone: $flood_ratio (target at least 0.5); valid refused: $refused"
echo "log lines written by Tollgate during the run: $(wc -l <"$work/tollgate.log")"
sleep 6 # one more usage flush (TOLLGATE_LAST_USED_FLUSH_MS, 5 s)
pulls=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COALESCE(SUM(pulls),0), COUNT(DISTINCT token_id) FROM token_usage").fetchone())' "$work/data/tollgate.db")
echo "usage counted during the run (pulls, tokens): $pulls"
grep -q 'tgr_' "$work/tollgate.log" && { echo "a secret reached the log" >&2; exit 1; } || true

# Last, as it revokes some of the tokens: leak reports answer in the same time whether their
# secret works or matches nothing (the node's report limit is off for this one client).
echo "== leak reports, one at a time"
python3 e2e/bench/leaks.py "$port" "$work"

echo "== the failure limiter: a million distinct client addresses (IPv4 and IPv6 /64s)"
"$target/tollgate-bench-limiter" 1000000 2
