#!/usr/bin/env bash
# make bench-scale: Tollgate with a million tokens. For each backend (SQLite, then this
# machine's PostgreSQL; `BENCH_SCALE_BACKENDS` picks), seeds in bulk 1,000,000 tokens over
# 10,000 projects (100,000 of them acme's) and 10,000,000 audit events, starts a release node
# with its cache at the default bound, and measures with wrk, beside the reference endpoint
# (parse, hash, look up in a HashMap of every secret) in the same run:
#   - introspection with secrets drawn at random from every token (mostly cache misses), and
#     from a hot 1 % of them;
#   - GET /auth/token under the same two mixes;
#   - a customer admin's pages of acme's 100,000 tokens (default order, by name, a name search
#     that an eighth of them match and one that one token matches, two status filters, the tenth page by cursor) and of the audit log (the first
#     and the hundredth page), 20 concurrent readers;
#   - the node's resident memory after each run.
# Prints one table per backend (markdown). BENCH_SCALE_KEEP=<dir> keeps the seeded databases
# and secrets there, and a later run with the same setting measures them again unseeded.
set -euo pipefail
cd "$(dirname "$0")/../.."

tokens=${BENCH_SCALE_TOKENS:-1000000}
projects=${BENCH_SCALE_PROJECTS:-10000}
big=${BENCH_SCALE_BIG:-100000}
audit=${BENCH_SCALE_AUDIT:-10000000}
duration=${BENCH_DURATION:-15s}
connections=${BENCH_CONNECTIONS:-64}
readers=${BENCH_READERS:-20}
backends=${BENCH_SCALE_BACKENDS:-sqlite postgres}
pg_admin=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
target="${CARGO_TARGET_DIR:-target}/release"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p tollgate-server -p tollgate-bench

work=$(mktemp -d)
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
cleanup() { stop_all; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 3000); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not ready: $1" >&2; exit 1; }
rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

export BENCH_DIR GATEWAY_BASIC BENCH_MODE BENCH_FILE BENCH_PATH BENCH_BEARER
GATEWAY_BASIC=$(printf 'registry-gateway:demo-gateway-secret' | base64)

# Waits for the usage that a gateway run counted to be written (the flush every 5 s), so that
# the next run measures its own work, not the previous run's writes.
settle() { sleep "${BENCH_SETTLE:-12}"; }

# run <label> <url> <script> <threads> <connections>: one wrk run; appends a table row.
run() {
  local out="$work/run.txt"
  wrk -t"$4" -c"$5" -d"$duration" --latency -s "e2e/bench/$3" "$2" >"$out"
  local rps p50 p99 non2xx errors
  rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out"); non2xx=${non2xx:-0}
  errors=$(awk '/Socket errors/ {print}' "$out")
  last_rps=$rps
  local rss=""
  [ -n "${node:-}" ] && rss="$(rss_mb "$node") MB"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "$non2xx" "$rss" | tee -a "$table"
  [ -z "$errors" ] || echo "  ($errors)"
}

# sql <statement>: one statement on the backend's database; prints the rows.
sql() {
  if [ "$backend" = postgres ]; then
    psql -qtA "$url" -c "$1"
  else
    python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
for row in c.execute(sys.argv[2]).fetchall(): print("|".join(map(str, row)))
c.commit()' "$url" "$1"
  fi
}

# Retention at work: the node restarted to keep 183 days of audit events, so that it deletes
# half of the ten million (a thousand per transaction) while 20 readers page and the gateway
# asks. Each row is followed by how many events went during it. The kept database then has
# fewer events: the next run with BENCH_SCALE_KEEP seeds again.
retention() {
  local before after events
  kill "$node"; wait "$node" 2>/dev/null || true
  # The stopped node's leases (its reminders' one would hold the housekeeping for three
  # intervals): an operator's cleanup after a node that is gone.
  sql "DELETE FROM leases" >/dev/null
  events=$(sql "SELECT count(*) FROM audit_events")
  env -u TOLLGATE_CACHE_MAX_TOKENS TOLLGATE_DEMO=true TOLLGATE_DATABASE_URL="$url" \
    TOLLGATE_LISTEN="127.0.0.1:$port" TOLLGATE_DATA_DIR="$BENCH_DIR/data" TOLLGATE_SECRET_KEY_FILE="$secret_key" \
    TOLLGATE_LOG=info TOLLGATE_LOG_FORMAT=json TOLLGATE_TOKEN_FAILURES_PER_MINUTE=0 \
    TOLLGATE_AUDIT_RETENTION_DAYS=183 TOLLGATE_HOUSEKEEPING_INTERVAL_MS=1000 \
    "$target/tollgate" serve 2>"$BENCH_DIR/tollgate-retention.log" &
  node=$!
  pids+=("$node")
  wait_ready "http://127.0.0.1:$port/readyz"
  BENCH_BEARER=$(curl -sf -X POST -H 'content-type: application/json' -d '{"user":"alice"}' \
    "$base/api/v1/demo/session" | jq -r .access_token)
  echo "| node restarted with audit retention 183 days; $events events | | | | | $(rss_mb "$node") MB |" | tee -a "$table"
  gone() { after=$(sql "SELECT count(*) FROM audit_events"); echo "|   (events deleted meanwhile: $((before - after))) | | | | | |" | tee -a "$table"; }
  BENCH_MODE=get
  for path in /api/v1/audit-events /api/v1/tokens; do
    BENCH_PATH=$path before=$(sql "SELECT count(*) FROM audit_events")
    run "$path while retention deletes" "$base" get.lua 2 "$readers"
    gone
  done
  BENCH_MODE=introspect BENCH_FILE=hot.txt
  wrk -t2 -c"$connections" -d3s -s e2e/bench/secrets.lua "$base" >/dev/null
  before=$(sql "SELECT count(*) FROM audit_events")
  run "introspection, hot 1 % while retention deletes" "$base" secrets.lua 2 "$connections"
  gone
  local retained_ratio
  retained_ratio=$(awk -v a="$last_rps" -v b="$ref_hot" 'BEGIN { printf "%.2f", a / b }')
  echo "while retention deletes: introspection hot 1 % / reference $retained_ratio; $((events - after)) of $events events deleted so far." | tee -a "$table"
  if grep -v '"status":503' "$BENCH_DIR/tollgate-retention.log" | grep -q '"status":5'; then
    echo "the node answered 5xx other than 503 while retention deleted" >&2; exit 1
  fi
  rm -f "$BENCH_DIR/seeded"
}

keep=${BENCH_SCALE_KEEP:-}
# The key that seals webhook secrets (PostgreSQL nodes need one named).
secret_key="${keep:-$work}/secret.key"
mkdir -p "$(dirname "$secret_key")"
[ -f "$secret_key" ] || (umask 077; openssl rand -base64 32 >"$secret_key")
for backend in $backends; do
  BENCH_DIR="${keep:-$work}/$backend"
  url="$BENCH_DIR/data/tollgate.db"
  [ "$backend" = postgres ] && url="$pg_admin/tollgate_bench_scale"
  if [ -n "$keep" ] && [ -f "$BENCH_DIR/seeded" ]; then
    echo "== $backend: measuring the database kept in $BENCH_DIR"
    seed_seconds=$(cat "$BENCH_DIR/seeded")
  else
    rm -rf "$BENCH_DIR"
    mkdir -p "$BENCH_DIR/data"
    if [ "$backend" = postgres ]; then
      psql -q "$pg_admin/postgres" -c 'DROP DATABASE IF EXISTS tollgate_bench_scale' -c 'CREATE DATABASE tollgate_bench_scale'
    fi
    echo "== $backend: seeding $tokens tokens over $projects projects ($big of them acme's), $audit audit events"
    seed_started=$(date +%s)
    "$target/tollgate-bench-scale-seed" "$url" "$BENCH_DIR" "$tokens" "$projects" "$big" "$audit"
    seed_seconds=$(( $(date +%s) - seed_started ))
    echo "$seed_seconds" >"$BENCH_DIR/seeded"
  fi
  if [ "$backend" = postgres ]; then
    size=$(psql -qtA "$url" -c "SELECT pg_size_pretty(pg_database_size('tollgate_bench_scale'))")
  else
    size="$(du -sh "$BENCH_DIR/data" | cut -f1)"
  fi

  port=$(free_port)
  ref_port=$(free_port)
  # As in production: request logging at info, JSON lines, to a file; the cache at its
  # default bound. /auth/token's failure limit is off: the whole mix comes from one address.
  env -u TOLLGATE_CACHE_MAX_TOKENS TOLLGATE_DEMO=true TOLLGATE_DATABASE_URL="$url" \
    TOLLGATE_LISTEN="127.0.0.1:$port" TOLLGATE_DATA_DIR="$BENCH_DIR/data" TOLLGATE_SECRET_KEY_FILE="$secret_key" \
    TOLLGATE_LOG=info TOLLGATE_LOG_FORMAT=json TOLLGATE_TOKEN_FAILURES_PER_MINUTE=0 \
    "$target/tollgate" serve 2>"$BENCH_DIR/tollgate.log" &
  node=$!
  pids+=("$node")
  "$target/tollgate-bench-reference" "127.0.0.1:$ref_port" "$BENCH_DIR/all.txt" &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port/readyz"
  wait_ready "http://127.0.0.1:$ref_port/"
  base="http://127.0.0.1:$port"
  ref="http://127.0.0.1:$ref_port"

  table="$work/$backend.md"
  {
    echo
    echo "$backend: $tokens tokens over $projects projects, $audit audit events; seeded in $seed_seconds s, $size on disk."
    echo "$duration each; wrk on the same $(nproc) cores as the node."
    echo
    echo "| run | req/s | p50 | p99 | non-2xx | node RSS after |"
    echo "|---|---|---|---|---|---|"
  } >"$table"
  cat "$table"
  echo "| node started, nothing asked yet | | | | | $(rss_mb "$node") MB |" | tee -a "$table"

  # Secrets from every token: the cache holds at most a tenth of them.
  BENCH_FILE=all.txt BENCH_MODE=introspect
  run "reference, every token" "$ref" secrets.lua 2 "$connections"
  ref_all=$last_rps
  run "introspection, every token (mostly misses)" "$base" secrets.lua 2 "$connections"
  settle
  miss_ratio=$(awk -v a="$last_rps" -v b="$ref_all" 'BEGIN { printf "%.2f", a / b }')
  BENCH_FILE=hot.txt
  # The hot set once through first (into the cache), as a gateway's working set would be.
  wrk -t2 -c"$connections" -d3s -s e2e/bench/secrets.lua "$base" >/dev/null
  settle
  run "reference, hot 1 %" "$ref" secrets.lua 2 "$connections"
  ref_hot=$last_rps
  run "introspection, hot 1 %" "$base" secrets.lua 2 "$connections"
  settle
  hot_ratio=$(awk -v a="$last_rps" -v b="$ref_hot" 'BEGIN { printf "%.2f", a / b }')
  BENCH_MODE=token BENCH_FILE=logins-all.txt
  run "/auth/token, every token" "$base" secrets.lua 2 "$connections"
  settle
  BENCH_FILE=logins-hot.txt
  run "/auth/token, hot 1 %" "$base" secrets.lua 2 "$connections"
  settle

  # A customer admin of acme (alice) reads pages, 20 at a time.
  BENCH_BEARER=$(curl -sf -X POST -H 'content-type: application/json' -d '{"user":"alice"}' \
    "$base/api/v1/demo/session" | jq -r .access_token)
  page() { curl -sf -H "Authorization: Bearer $BENCH_BEARER" "$base$1"; }
  count=$(page "/api/v1/tokens?limit=100" | jq '.items | length')
  [ "$count" = 100 ] || { echo "acme's token list answered $count tokens" >&2; exit 1; }
  cursor=""
  for _ in $(seq 1 9); do
    cursor=$(page "/api/v1/tokens${cursor:+?cursor=$cursor}" | jq -r .next_cursor)
  done
  tenth="/api/v1/tokens?cursor=$cursor"
  # A search that one token matches: the number of the tenth page's first token.
  rare=$(page "$tenth" | jq -r '.items[0].name' | sed 's/.*-//')
  cursor=""
  for _ in $(seq 1 99); do
    cursor=$(page "/api/v1/audit-events${cursor:+?cursor=$cursor}" | jq -r .next_cursor)
  done
  hundredth="/api/v1/audit-events?cursor=$cursor"
  for check in "$tenth" "$hundredth" "/api/v1/tokens?q=$rare" "/api/v1/tokens?status=expired"; do
    n=$(page "$check" | jq '.items | length')
    [ "$n" -gt 0 ] || { echo "$check answered no items" >&2; exit 1; }
  done
  list_p99s=()
  for path in "/api/v1/tokens" "/api/v1/tokens?sort=name" "/api/v1/tokens?q=runner" "/api/v1/tokens?q=$rare" \
    "/api/v1/tokens?status=active" "/api/v1/tokens?status=expired" "$tenth" \
    "/api/v1/audit-events" "$hundredth"; do
    BENCH_PATH=$path
    label=${path/\?cursor=*/?cursor=…}
    [ "$path" = "$tenth" ] && label="/api/v1/tokens, tenth page by cursor"
    [ "$path" = "$hundredth" ] && label="/api/v1/audit-events, hundredth page by cursor"
    run "$label" "$base" get.lua 2 "$readers"
    list_p99s+=("$(awk '$1 == "99%" {print $2}' "$work/run.txt")")
  done
  {
    echo
    echo "introspection / reference: every token $miss_ratio (goal at least $([ "$backend" = postgres ] && echo 0.15 || echo 0.4)), hot 1 % $hot_ratio (goal at least 0.8)."
    echo "list and audit pages p99 at $readers readers: ${list_p99s[*]} (goal under 50 ms); node RSS goal under 300 MB."
  } | tee -a "$table"
  grep -q 'tgr_' "$BENCH_DIR/tollgate.log" && { echo "a secret reached the log" >&2; exit 1; }
  # 503 is the answer of a database slower than the caller's patience (saturation, counted);
  # any other 5xx is a defect.
  echo "503 answers (the database slower than the caller's patience): $(grep -c '"status":503' "$BENCH_DIR/tollgate.log" || true)" | tee -a "$table"
  if grep -v '"status":503' "$BENCH_DIR/tollgate.log" | grep -q '"status":5'; then
    echo "the node answered 5xx other than 503" >&2; grep -v '"status":503' "$BENCH_DIR/tollgate.log" | grep '"status":5' | head -3 >&2; exit 1
  fi
  retention
  stop_all
  node=""
  [ -n "$keep" ] || rm -rf "$BENCH_DIR"
done
echo
echo "== summary"
for backend in $backends; do cat "$work/$backend.md"; done
