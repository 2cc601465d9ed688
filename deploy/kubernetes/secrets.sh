#!/usr/bin/env bash
# Prints the two Secrets that deploy/kubernetes/tollgate.yaml reads, with values made here and
# now (openssl), for `kubectl apply -f -`; never commit its output.
#
#   TOLLGATE_DATABASE_URL='postgres://tollgate:…@postgres:5432/tollgate?sslmode=verify-full' \
#     deploy/kubernetes/secrets.sh | kubectl apply -f -
#
# - tollgate-secrets: database-url (TOLLGATE_DATABASE_URL from the environment) and
#   gateway-clients (the client `registry-gateway` with a random secret, printed once on
#   standard error for the registry gateway's configuration), read by the nodes as files;
# - tollgate-keys: the ES256 key that signs registry tokens and its certificate (also the
#   registry's rootcertbundle), and the key that seals webhook signing secrets.
# Existing Secrets are replaced by `kubectl apply`: run it once, or to rotate everything.
set -euo pipefail
: "${TOLLGATE_DATABASE_URL:?set TOLLGATE_DATABASE_URL to the database, with its password}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$work/key.pem" 2>/dev/null
openssl req -new -x509 -key "$work/key.pem" -out "$work/cert.pem" -days 825 -subj /CN=tollgate 2>/dev/null
openssl rand -base64 32 >"$work/secret.key"
gateway="registry-gateway:$(openssl rand -hex 24)"
b64() { base64 -w0 <"$1"; }
b64s() { printf '%s' "$1" | base64 -w0; }
cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: tollgate-secrets
  labels: { app.kubernetes.io/name: tollgate }
type: Opaque
data:
  database-url: $(b64s "$TOLLGATE_DATABASE_URL")
  gateway-clients: $(b64s "$gateway")
---
apiVersion: v1
kind: Secret
metadata:
  name: tollgate-keys
  labels: { app.kubernetes.io/name: tollgate }
type: Opaque
data:
  key.pem: $(b64 "$work/key.pem")
  cert.pem: $(b64 "$work/cert.pem")
  secret.key: $(b64 "$work/secret.key")
YAML
echo "the registry gateway's credential (HTTP Basic at /oauth2/introspect): $gateway" >&2
