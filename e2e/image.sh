#!/usr/bin/env bash
# make image-test: builds the image (deploy/image.sh) and checks what it holds: one static
# binary whose embedded dependency tree and SBOM name libpq's and OpenSSL's source crates, and
# nothing copied from this machine. Then runs two containers of it as two nodes on this
# machine's PostgreSQL (host network, runc; one of them over TLS, through the OpenSSL inside),
# sharing one registry signing key, and pulls with skopeo through Distribution 2.8 that trusts
# them: a token made on one node pulls through the other, another product is refused, and a
# secret re-generated on one node is refused through the other.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/image.sh
. deploy/podman/env.sh
image=${IMAGE:-tollgate:0.1.0}
built="${CARGO_TARGET_DIR:-target}/image"
work=$(mktemp -d)
db="tollgate_image_$$"
names=()
registry_pid=""
cleanup() {
  for n in "${names[@]}"; do podman rm -f "$n" >/dev/null 2>&1 || true; done
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 150); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "not ready: $1" >&2; exit 1; }

fail() { echo "FAIL: $*" >&2; exit 1; }

# What is inside: the binary and the users' files, nothing else.
inside=$(cd "$built/rootfs" && find . -type f | sort | tr '\n' ' ')
[ "$inside" = "./etc/group ./etc/passwd ./usr/local/bin/tollgate " ] || fail "the image holds more than its binary: $inside"
readelf -d "$built/rootfs/usr/local/bin/tollgate" | grep -q NEEDED && fail "the binary needs shared libraries"
# The dependency tree cargo auditable embedded (zlib-compressed JSON), as scanners read it.
objcopy --dump-section .dep-v0="$work/deps.z" "$built/rootfs/usr/local/bin/tollgate" 2>/dev/null || fail "no .dep-v0 section"
python3 - "$work/deps.z" "$built/tollgate.cdx.json" <<'PY' || fail "the dependency data does not name what is inside"
import json, sys, zlib
embedded = {p["name"]: p["version"] for p in json.loads(zlib.decompress(open(sys.argv[1], "rb").read()))["packages"]}
sbom = json.load(open(sys.argv[2]))
assert sbom["bomFormat"] == "CycloneDX", sbom.get("bomFormat")
listed = {c["name"]: c.get("version") for c in sbom.get("components", [])}
for name in ("pq-src", "openssl-src", "libsqlite3-sys", "actix-web", "rustls"):
    assert name in embedded, f"{name} not embedded"
    assert listed.get(name) == embedded[name], f"{name}: SBOM {listed.get(name)}, binary {embedded[name]}"
    assert any(c["name"] == name and c.get("purl", "").startswith("pkg:cargo/") for c in sbom["components"]), name
print(f"== {len(embedded)} crates embedded in the binary, {len(listed)} components in the SBOM; "
      f"libpq {embedded['pq-src']}, OpenSSL {embedded['openssl-src']}")
PY

psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
# The key every node signs registry tokens with, made once (any ES256 key will do).
mkdir -p "$work/signing"
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$work/signing/key.pem"
openssl req -new -x509 -key "$work/signing/key.pem" -out "$work/signing/cert.pem" -days 30 -subj /CN=tollgate 2>/dev/null
# The key every node seals webhook secrets with, shared likewise.
openssl rand -base64 32 >"$work/signing/secret.key"
chmod 0644 "$work/signing/"*.pem "$work/signing/secret.key"

node() { # name port sslmode
  local name="tollgate-image-$1-$$"
  names+=("$name")
  podman run -d --name "$name" --network host --runtime runc \
    -e TOLLGATE_LISTEN="127.0.0.1:$2" -e TOLLGATE_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=$3" \
    -e TOLLGATE_DEMO=true -e TOLLGATE_LOG=warn \
    -e TOLLGATE_TOKEN_KEY_FILE=/etc/tollgate/signing/key.pem -e TOLLGATE_TOKEN_CERT_FILE=/etc/tollgate/signing/cert.pem \
    -e TOLLGATE_SECRET_KEY_FILE=/etc/tollgate/signing/secret.key \
    -v "$work/signing:/etc/tollgate/signing:ro" "$image" serve >/dev/null 2>"$work/podman-$1.log"
  wait_ready "http://127.0.0.1:$2/readyz"
}
port1=$(free_port); port2=$(free_port)
node a "$port1" disable
node b "$port2" require
a="http://127.0.0.1:$port1"; b="http://127.0.0.1:$port2"
echo "== two nodes up: $a and $b"

[ "$(podman inspect "${names[0]}" --format '{{.Config.User}}')" = "65532:65532" ] || fail "the image does not run as the non-root user"
podman healthcheck run "${names[0]}" >/dev/null 2>&1 || fail "the health check of node a failed"
curl -sf "$a/" | grep -q '<html' || fail "the portal is not served from the image"
echo "== non-root, healthy, portal served"
tls=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '$db'")
[ "${tls%%|*}" -gt 0 ] || fail "node b's connections do not use TLS ($tls)"
echo "== node b speaks TLS to PostgreSQL through the OpenSSL built into the binary (with TLS|without: $tls)"

# A registry with two products' images (the image itself, pushed while it has no auth), then
# the same storage behind token auth trusting the nodes' certificate, asking node b.
reg_port=$(free_port)
registry() { # auth-section
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n%s' \
    "$work/storage" "$reg_port" "$1" >"$work/registry.yml"
  docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
  registry_pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$reg_port/v2/" && return 0; sleep 0.1; done
  fail "docker-registry did not start"
}
registry ""
for repo in wso2am/tollgate wso2mi/tollgate; do
  podman push -q --tls-verify=false "$image" "127.0.0.1:$reg_port/$repo:1.0" >/dev/null 2>&1 || fail "pushing $repo"
done
kill "$registry_pid"; wait "$registry_pid" 2>/dev/null || true
registry "$(printf 'auth:\n  token:\n    realm: %s/auth/token\n    service: tollgate-registry\n    issuer: tollgate\n    rootcertbundle: %s\n' "$b" "$work/signing/cert.pem")"

session=$(curl -sf -X POST -H 'content-type: application/json' -d '{"user":"alice"}' "$a/api/v1/demo/session" | jq -r .access_token)
made=$(curl -sf -X POST -H "authorization: Bearer $session" -H 'content-type: application/json' -d '{"name":"image-test"}' "$a/api/v1/tokens")
user=$(jq -r .token.registry_username <<<"$made"); secret=$(jq -r .secret <<<"$made"); id=$(jq -r .token.id <<<"$made")
pull() { skopeo --insecure-policy inspect --tls-verify=false --creds "$user:$2" "docker://127.0.0.1:$reg_port/$1:1.0" >/dev/null 2>"$work/skopeo.err"; }

pull wso2am/tollgate "$secret" || fail "a token made on node a does not pull through node b: $(cat "$work/skopeo.err")"
pull wso2mi/tollgate "$secret" && fail "another product was pulled"
renewed=$(curl -sf -X POST -H "authorization: Bearer $session" "$a/api/v1/tokens/$id/secret" | jq -r .secret)
pull wso2am/tollgate "$secret" && fail "a secret re-generated on node a still pulls through node b"
grep -q "re-generated" "$work/skopeo.err" || fail "skopeo did not show the reason: $(cat "$work/skopeo.err")"
pull wso2am/tollgate "$renewed" || fail "the new secret does not pull: $(cat "$work/skopeo.err")"
echo "== pulls through a registry that trusts the image's nodes: granted, refused, re-generated: as promised"
