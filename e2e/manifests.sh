#!/usr/bin/env bash
# make manifests: the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate,
# offline, strict: no unknown field passes), the compose file parsed, and every TOLLGATE_*
# setting that they name checked against the settings `tollgate serve` knows.
set -euo pipefail
cd "$(dirname "$0")/.."

. e2e/venv.sh

echo "== kubernetes-validate (Kubernetes 1.33, strict)"
"$venv/bin/kubernetes-validate" --strict --kubernetes-version 1.33.0 deploy/kubernetes/*.yaml

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
