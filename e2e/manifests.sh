#!/usr/bin/env bash
# make manifests: the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate,
# offline, strict: no unknown field passes), the compose file parsed, and every TOLLGATE_*
# setting that they name checked against the settings `tollgate serve` knows.
set -euo pipefail
cd "$(dirname "$0")/.."

. e2e/venv.sh

echo "== kubernetes-validate (Kubernetes 1.33, strict)"
"$venv/bin/kubernetes-validate" --strict --kubernetes-version 1.33.0 deploy/kubernetes/*.yaml

echo "== the manifests hold no Secret, and secrets.sh makes valid ones"
if grep -qE '^kind: Secret' deploy/kubernetes/*.yaml; then
  echo "a Secret with values in deploy/kubernetes: kubectl apply -f would overwrite real ones" >&2
  exit 1
fi
secrets=$(mktemp)
trap 'rm -f "$secrets"' EXIT
TOLLGATE_DATABASE_URL='postgres://tollgate:pw@postgres:5432/tollgate' deploy/kubernetes/secrets.sh >"$secrets" 2>/dev/null
"$venv/bin/kubernetes-validate" --strict --kubernetes-version 1.33.0 "$secrets"
"$venv/bin/python" - "$secrets" deploy/kubernetes/tollgate.yaml <<'PY'
import base64, sys, yaml
made = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(sys.argv[1]))}
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
keys = base64.b64decode(made["tollgate-keys"]["data"]["secret.key"]).strip()
assert len(base64.b64decode(keys)) == 32, "the sealing key is 32 bytes"
deployment = next(d for d in docs if d["kind"] == "Deployment")
volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
read = {v["secret"]["secretName"] for v in volumes.values() if "secret" in v}
for c in deployment["spec"]["template"]["spec"]["containers"] + deployment["spec"]["template"]["spec"]["initContainers"]:
    read |= {e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e}
assert read == set(made), f"the Deployment reads {read}, secrets.sh makes {set(made)}"
config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
for proxy in config["TOLLGATE_TRUSTED_PROXIES"].split(","):
    bits = int(proxy.split("/")[1]) if "/" in proxy else 32
    assert bits >= 24, f"TOLLGATE_TRUSTED_PROXIES trusts a whole network: {proxy}"
assert any(d["kind"] == "NetworkPolicy" for d in docs), "no NetworkPolicy"
for secret in ("TOLLGATE_DATABASE_URL", "TOLLGATE_GATEWAY_CLIENTS"):
    assert secret not in config and secret + "_FILE" in config, f"{secret} must come from a file"
print("secrets.sh makes " + ", ".join(sorted(made)) + "; the Deployment reads exactly these")
PY

echo "== compose file"
"$venv/bin/python" - <<'PY'
import yaml
compose = yaml.safe_load(open("deploy/compose.yaml"))
services = compose["services"]
for name in ("postgres", "migrate", "node-1", "node-2"):
    assert name in services, f"compose.yaml lacks the service {name}"
for name, service in services.items():
    if service.get("image", "").startswith("tollgate:"):
        assert service["command"][0] in ("serve", "migrate"), f"{name}: {service['command']}"
        assert service["env_file"] == "tollgate.env", name
settings = dict(l.split("=", 1) for l in open("deploy/tollgate.env").read().splitlines() if l and not l.startswith("#"))
for secret in ("TOLLGATE_DATABASE_URL", "TOLLGATE_GATEWAY_CLIENTS"):
    assert secret not in settings and settings[secret + "_FILE"].startswith("/run/secrets/"), f"{secret} must come from a file"
    assert settings[secret + "_FILE"].rsplit("/", 1)[1] in compose["secrets"], f"{secret}: no compose secret"
print("compose.yaml: " + ", ".join(services))
PY

echo "== settings named in deploy/ that tollgate does not know"
bin="${CARGO_TARGET_DIR:-target}/debug/tollgate"
known=$({ "$bin" serve --help; "$bin" migrate --help; echo TOLLGATE_LOG TOLLGATE_LOG_FORMAT; } | grep -o 'TOLLGATE_[A-Z_]*' | sort -u)
used=$(grep -ohE 'TOLLGATE_[A-Z_]+' deploy/kubernetes/*.yaml deploy/compose.yaml deploy/tollgate.env | sort -u)
unknown=$(comm -23 <(echo "$used") <(echo "$known"))
if [ -n "$unknown" ]; then
  echo "unknown settings: $unknown" >&2
  exit 1
fi
echo "all $(echo "$used" | wc -l) settings are known"
