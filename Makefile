# lifeboat: failover controller for KVM clusters. `make help` lists the targets.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
BIN := build/lifeboat
GUEST := build/guest
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Lab tests are the tests named TestLab*; they need root and /dev/kvm. The lab packages run side by
# side and their tests in parallel, but at most LAB_SLOTS labs run at once on the machine (testenv's
# lab slots, an flock each): most of a lab test is waiting (detection windows, boots, migrations).
LAB_TESTS := ^TestLab
LAB_SLOTS ?= 2

.PHONY: help deps build guest package test unit-test lab-test fuzz bench bench-fleet lint demo clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

deps: ## Install the system packages lifeboat and its lab need (idempotent, quick when done)
	@scripts/install-deps.sh

build: deps ## Build the lifeboat binary into build/lifeboat
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/lifeboat

package: deps ## Build the Debian package build/lifeboat_VERSION_amd64.deb (nfpm): binary, hardened systemd unit, example config
	@scripts/package.sh build

guest: deps ## Build the lab's tiny Linux guest image into build/guest
	@scripts/build-guest.sh $(GUEST)

test: deps build guest unit-test lab-test ## Run every test: unit tests with -race, then the real-lab end-to-end tests

unit-test: ## Unit tests only, with the race detector
	$(GO) test -race -short -count=1 ./...

lab-test: ## Real-lab end-to-end tests only (root, /dev/kvm; LAB_SLOTS=1 runs one lab at a time)
	LIFEBOAT_GUEST_DIR=$(CURDIR)/$(GUEST) LIFEBOAT_LAB_SLOTS=$(LAB_SLOTS) $(GO) test -count=1 -p 4 -parallel $(LAB_SLOTS) -timeout 40m -run '$(LAB_TESTS)' ./...

FUZZTIME ?= 10s
fuzz: ## Run every fuzz target for FUZZTIME each (default 10s; a count such as 20000x suits CI)
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		pkg=$$(dirname $$f); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

BENCH ?= .
bench: deps guest ## Run the benchmarks (BENCH=regexp picks some; the fleet benchmark alone takes about 12 min)
	LIFEBOAT_GUEST_DIR=$(CURDIR)/$(GUEST) $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count=1 -timeout 60m ./...

bench-fleet: ## The fleet benchmark alone: 1k, 2k, 5k simulated hosts with Redfish BMC emulators (CPU, RSS, detection, restarts, store)
	$(GO) test -run '^$$' -bench '^BenchmarkFleetScale$$' -benchtime 1x -count=1 -timeout 30m ./daemon/

lint: ## gofmt, go vet and staticcheck (pinned)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

demo: deps build guest ## Bring a lab up, live-migrate a guest, cut a host's power, recover, bring it down
	@LIFEBOAT=$(CURDIR)/$(BIN) LIFEBOAT_GUEST_DIR=$(CURDIR)/$(GUEST) scripts/demo.sh

clean: ## Remove build output
	rm -rf build
