# mesh-conformance: make e2e runs the conformance job, make test the tests.
SHELL := /usr/bin/env bash
GO ?= go
ARGS ?=
SUITES ?=
MODES ?=
E2E_TIMEOUT ?= 6h

.PHONY: help e2e test test-unit test-apiserver test-lab lab lab-multinode bench lint k8s-binaries

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

e2e: ## main job: a kind cluster per suite, installs, all suites (MODES=all: every mode), reports and a summary in _output/ (needs Docker and internet)
	SUITES="$(SUITES)" MODES="$(MODES)" E2E_TIMEOUT="$(E2E_TIMEOUT)" bash scripts/e2e.sh $(ARGS)

test: test-unit test-apiserver test-lab ## every tier that runs without internet (what CI runs)

test-unit: ## unit tier: go test ./... with no tags touches no cluster, no Docker, no API server (real curl against local servers; the suites' plans)
	$(GO) test ./...

test-apiserver: k8s-binaries ## API server tier: fixtures and installers against a real kube-apiserver
	MC_KUBE_BIN_DIR="$$(bash scripts/build-k8s.sh | tail -n 1)" \
		$(GO) test -tags apiserver -count=1 ./tests/apiserver/...

lab: ## offline lab: kind cluster from a locally built node image, real pods, stand-in targets (MC_LAB_KEEP=1 keeps it)
	bash scripts/lab.sh

lab-multinode: ## offline lab, two nodes: pod-to-pod and Service traffic across nodes
	MC_LAB_MULTINODE=1 bash scripts/lab.sh -run TestMultiNodePodTraffic -v

test-lab: ## the lab when Docker can run here (root, or a running engine); says so when it cannot
	@if [ "$$(id -u)" = 0 ] || docker info >/dev/null 2>&1; then bash scripts/lab.sh; \
	else echo "test-lab: skipped: the lab needs a Docker engine (or root to install and start one)"; fi

k8s-binaries: ## build (or reuse from cache) kube-apiserver and etcd for the API server tier
	@bash scripts/build-k8s.sh >/dev/null

bench: ## benchmarks of the probe engine
	$(GO) test -run XXX -bench . -benchmem ./tests/...

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags apiserver,lab,e2e ./...
