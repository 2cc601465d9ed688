# Tollgate: `make run` starts it (SQLite, demo mode), `make test` runs every test.
CARGO ?= cargo
SERVER = -p tollgate-server --bin tollgate

.PHONY: run test check unit walkthrough contract manifests image image-test e2e spec web clean bench bench-web bench-scale

## Build everything and serve on http://127.0.0.1:8080 (embedded SQLite in ./data, demo mode).
run: web
	$(CARGO) run --release $(SERVER) -- serve --demo

## Every test: formatting, lints, unit and integration tests (SQLite and PostgreSQL), the README
## walk-through, the API contract (validator and fuzzer), the deployment manifests, and the
## browser tests of the SPA.
test: check unit walkthrough contract manifests image-test e2e

check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p tollgate-frontend --target wasm32-unknown-unknown -- -D warnings

## The npm packages of the tests: the browser driver, axe, and the test identity provider
## (oidc-provider) that the Rust API tests start too.
e2e/node_modules/.installed: e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The API tests' rolling upgrade runs the previous release beside this one: e2e/previous-release.sh
## builds it (the commit before the last migration change) and prints its path.
unit: e2e/node_modules/.installed
	previous=$$(e2e/previous-release.sh) && \
	  TOLLGATE_PREVIOUS_RELEASE="$$previous" TOLLGATE_TEST_REQUIRE_ALL=1 $(CARGO) test

walkthrough:
	$(CARGO) build $(SERVER)
	e2e/readme-walkthrough.sh

## The committed OpenAPI document against openapi-spec-validator, then Schemathesis (every
## check) against a live demo server as a customer admin and as a customer.
contract:
	$(CARGO) build $(SERVER)
	e2e/api-contract.sh

## The Kubernetes manifests and the compose file of deploy/: the Kubernetes schemas (offline),
## and every setting they name known to `tollgate serve`.
manifests:
	$(CARGO) build $(SERVER)
	e2e/manifests.sh

## The container image (Containerfile, FROM scratch), with podman; prints its size.
image: web
	deploy/image.sh

## The image as two nodes on this machine's PostgreSQL, pulled through by a registry.
image-test: web
	e2e/image.sh

## Rewrite api-spec/openapi.json from the code.
spec:
	$(CARGO) run -q $(SERVER) -- openapi > api-spec/openapi.json

## The single-page app (WASM), built into frontend/dist.
web:
	frontend/build.sh

## Browser tests: Debian's chromium, driven by playwright-core, against a fresh server.
e2e: web e2e/node_modules/.installed
	$(CARGO) build $(SERVER)
	cd e2e && npm test

clean:
	$(CARGO) clean
	rm -rf frontend/dist

## The SPA's budget: bundle size and time to an interactive token table (release build).
bench-web: web e2e/node_modules/.installed
	$(CARGO) build --release $(SERVER)
	cd e2e && node bench-web.mjs

## The gateway benchmark (release build, wrk): prints requests/s and p50/p99 latency.
bench: e2e/node_modules/.installed
	e2e/bench/run.sh

## A million tokens (10,000 projects, one of 100,000) and ten million audit events, seeded in
## bulk on SQLite and on PostgreSQL: introspection and /auth/token with mostly cache misses and
## with a hot set, list and audit pages at 20 readers, and the node's memory (about 25 min).
bench-scale:
	e2e/bench/scale.sh
