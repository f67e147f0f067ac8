# Shardwise developer commands. On a fresh clone `make test` and `make demo`
# install what they need first: the emulators' npm packages (from
# emulators/package-lock.json) and the Go modules.
#
#   make test    vet, gofmt check, then every test with -race against local
#                Kinesis and DynamoDB emulators (kinesis-local, dynalite,
#                kinesalite) listening on 127.0.0.1
#   make demo    the multi-worker demo against the emulators
#   make bench   the end-to-end benchmark against the emulators
#   make vet / make fmt / make deps / make clean

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test
.DELETE_ON_ERROR:

GO    ?= go
NPM   ?= npm
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt

# Knobs: e.g. make test PKGS=./leases/... TESTFLAGS='-run Store',
# make demo DEMOFLAGS='-workers 3'
PKGS         ?= ./...
TESTFLAGS    ?=
TEST_TIMEOUT ?= 45m
DEMOFLAGS    ?=
BENCHFLAGS   ?=

BIN           := bin
WITHEMULATORS := $(BIN)/withemulators
TESTSUM       := $(BIN)/testsum

# npm ci writes this file last, so it is newer than package-lock.json only
# after a complete install with the current lock file.
NODE_STAMP := emulators/node_modules/.package-lock.json

# Go files to gofmt: everything but installed npm packages and test data.
FIND_GO := find . -name '*.go' -not -path './emulators/node_modules/*' -not -path '*/testdata/*' -not -path './.git/*' -print0

.PHONY: deps tools test demo bench vet fmt fmt-check clean

deps: $(NODE_STAMP)
	$(GO) mod download

$(NODE_STAMP): emulators/package-lock.json emulators/package.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund --prefix emulators
	touch $@

# Built once per run (go build's cache makes it quick) instead of `go run`
# at each use.
tools:
	$(GO) build -o $(BIN)/ ./internal/emulator/cmd/withemulators ./internal/cmd/testsum

test: deps vet fmt-check tools
	$(WITHEMULATORS) -kinesalite -- bash -o pipefail -c \
		'$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -json $(TESTFLAGS) $(PKGS) 2>&1 | $(TESTSUM) -v'

demo: deps tools
	$(WITHEMULATORS) -- $(GO) run ./examples/demo $(DEMOFLAGS)

bench: deps tools
	$(WITHEMULATORS) -kinesalite -- $(GO) run ./examples/bench $(BENCHFLAGS)

vet:
	$(GO) vet ./...

fmt-check:
	@unformatted="$$($(FIND_GO) | xargs -0 -r $(GOFMT) -l)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run make fmt):"; \
		echo "$$unformatted"; \
		exit 1; \
	fi

fmt:
	$(FIND_GO) | xargs -0 -r $(GOFMT) -w

clean:
	rm -rf $(BIN) .emulators
