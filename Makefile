# Tollgate: `make run` starts it (SQLite, demo mode), `make test` runs every test.
CARGO ?= cargo
SERVER = -p tollgate-server --bin tollgate

.PHONY: run test check unit walkthrough spec web clean bench

## Build everything and serve on http://127.0.0.1:8080 (embedded SQLite in ./data, demo mode).
run: web
	$(CARGO) run --release $(SERVER) -- serve

## Every test: formatting, lints, unit and integration tests (SQLite and PostgreSQL), the README walk-through.
test: check unit walkthrough

check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

walkthrough:
	$(CARGO) build $(SERVER)
	e2e/readme-walkthrough.sh

## Rewrite api-spec/openapi.json from the code.
spec:
	$(CARGO) run -q $(SERVER) -- openapi > api-spec/openapi.json

## The single-page app, served from frontend/dist.
web:
	mkdir -p frontend/dist
	cp frontend/index.html frontend/dist/index.html

clean:
	$(CARGO) clean
	rm -rf frontend/dist

## The gateway benchmark (release build, wrk): prints requests/s and p50/p99 latency.
bench:
	e2e/bench/run.sh
