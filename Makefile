# Berth — every command a developer or CI needs. `make test` and `make demo` work on a
# fresh machine: they install what they need first.
SHELL := /bin/bash
BUN ?= $(shell command -v bun 2>/dev/null || echo bun)
SEED ?=
SEEDS ?= 10000

.PHONY: setup test check typecheck lint fmt sim bench bench-raft bench-failover bench-router chaos demo db-generate clean

## setup: install Bun from npm when missing, then the locked dependencies (idempotent)
setup: node_modules/.setup-stamp

node_modules/.setup-stamp: package.json bun.lock
	@command -v bun >/dev/null 2>&1 || { echo "installing bun from the npm registry"; npm install -g bun@^1.4.5; }
	bun install --frozen-lockfile
	@touch $@

## test: every test (unit, scripted, simulation, real-process)
test: setup
	bash scripts/test.sh

## check: types, lint and format, then every test
check: setup typecheck lint test

typecheck: setup
	bun x tsc --noEmit -p tsconfig.json

lint: setup
	bun x biome check .

## fmt: apply the formatter and safe lint fixes
fmt: setup
	bun x biome check --write .

## sim: long simulation runs (SEED=n replays one seed; SEEDS=n sets how many)
sim: setup
	SIM_SEEDS=$(SEEDS) SIM_SEED=$(SEED) bun run test/sim/run.ts

## bench: every benchmark, figures printed beside their baselines
bench: bench-raft bench-scheduler bench-failover bench-router

bench-raft: setup
	bun run bench/raft/run.ts

bench-scheduler: setup
	bun run bench/scheduler/run.ts

## bench-router: Berth's router vs nginx and Caddy with wrk (installs wrk, nginx, caddy via apt-get)
bench-router: setup
	bun run bench/router/run.ts

## bench-failover: failover on a real loopback cluster beside etcd (TRIALS=n, default 20;
## FAILOVER_ARGS="--voters 5 --workers 2")
bench-failover: setup
	bun run bench/failover/run.ts $(FAILOVER_ARGS)

## chaos: the seeded chaos test, longer (CHAOS_MS, default 300000; SEED=n replays a schedule)
chaos: setup
	CHAOS_MS=$${CHAOS_MS:-300000} SEED=$(SEED) bun test --timeout 120000 test/chaos

## db-generate: regenerate SQL migrations from the drizzle schemas
db-generate: setup
	bun x drizzle-kit generate --config drizzle.state.config.ts
	bun x drizzle-kit generate --config drizzle.raft.config.ts

## demo: a local three-node cluster with an example app
demo: setup
	bun run scripts/demo.ts

clean:
	rm -rf node_modules .tmp
