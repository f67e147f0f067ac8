# Shardwise developer commands. On a fresh clone `make test` and `make demo`
# install what they need first: the emulators' npm packages (from
# emulators/package-lock.json) and the Go modules.
#
#   make test    vet, staticcheck, gofmt check, then every test with -race
#                against local Kinesis and DynamoDB emulators (kinesis-local,
#                dynalite, kinesalite) listening on 127.0.0.1, then the
#                packages with assembly and their importers again with
#                -tags purego (pure Go only), then the allocation tests
#                without -race; one summary counts every run
#   make demo    the multi-worker demo against the emulators
#   make bench   the end-to-end benchmark against the emulators
#   make mutants break each safety property on purpose in a scratch copy
#                (internal/cmd/mutants) and check a test fails; not part
#                of make test; MUTANTSFLAGS='-run NAME' picks mutants
#   make chaos   the multi-process chaos suite's full schedule (about five
#                minutes): worker processes killed, paused, restarted and
#                joined while the stream is split and merged; key=value
#                figures; CHAOSFLAGS='-seed N' (make test runs a short one)
#   make mutants-auto  generated operator mutants (boundaries, negations,
#                arithmetic, removed calls and returns) over the safety
#                files, sampled (MUTANTSAUTOFLAGS='-max 0' runs them all)
#   make fault-matrix  the AWS-boundary fault matrix as a Markdown table
#   make staticcheck  staticcheck (pinned version, fetched by go run)
#   make vet / make fmt / make deps / make clean

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test
.DELETE_ON_ERROR:

GO    ?= go
NPM   ?= npm
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt

# Knobs: e.g. make test PKGS=./leases/... TESTFLAGS='-run Store',
# make demo DEMOFLAGS='-workers 3'. TESTFLAGS applies to the purego run
# too; make test PUREGO_PKGS= skips that run and the purego vet and
# staticcheck.
PKGS         ?= ./...
TESTFLAGS    ?=
TEST_TIMEOUT ?= 45m
DEMOFLAGS    ?=
BENCHFLAGS   ?=
MUTANTSFLAGS ?=
CHAOSFLAGS   ?=
MUTANTSAUTOFLAGS ?=

# Packages with assembly (internal/b64, internal/md5x) and the packages that
# use them: built with -tags purego they must compile no .s file and pass
# on the pure-Go paths alone (as on other architectures).
PUREGO_PKGS ?= ./internal/b64/... ./internal/md5x/... ./internal/fastdecode/... ./internal/kpl/...

# Allocation tests skip under the race detector (internal/racebuild: it
# adds allocations, and its sync.Pool drops a quarter of what is put back),
# so make test runs the tests named *Alloc* of the packages that have such
# tests once more without it; make test ALLOC_PKGS= skips that run.
ALLOC_PKGS  ?= ./internal/md5x ./internal/mscope ./internal/fastdecode ./metrics/cloudwatch ./metrics/otelmetrics ./metrics/prommetrics
ALLOC_TESTS ?= Alloc

# Pinned, and run with go run so a fresh clone needs nothing installed.
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

BIN           := bin
WITHEMULATORS := $(BIN)/withemulators
TESTSUM       := $(BIN)/testsum

# npm ci writes this file last, so it is newer than package-lock.json only
# after a complete install with the current lock file.
NODE_STAMP := emulators/node_modules/.package-lock.json

# Go files to gofmt: everything but installed npm packages and test data.
FIND_GO := find . -name '*.go' -not -path './emulators/node_modules/*' -not -path '*/testdata/*' -not -path './.git/*' -print0

.PHONY: deps tools test demo bench mutants mutants-auto fault-matrix chaos vet staticcheck fmt fmt-check clean

deps: $(NODE_STAMP)
	$(GO) mod download

$(NODE_STAMP): emulators/package-lock.json emulators/package.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund --prefix emulators
	touch $@

# Built once per run (go build's cache makes it quick) instead of `go run`
# at each use.
tools:
	$(GO) build -o $(BIN)/ ./internal/emulator/cmd/withemulators ./internal/cmd/testsum

# The go test runs feed one JSON stream, so testsum's last line counts
# every test; the lines echoed between them mark where the purego run and
# the allocation run start (their packages are reported again). Any run
# failing fails the target.
test: deps vet staticcheck fmt-check tools
	$(WITHEMULATORS) -kinesalite -- bash -o pipefail -c \
		'{ $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -json $(TESTFLAGS) $(PKGS); rc=$$?; \
		if [ -n "$(strip $(PUREGO_PKGS))" ]; then \
			echo "=== again with -tags purego (no assembly): $(strip $(PUREGO_PKGS))"; \
			$(GO) test -tags purego -race -count=1 -timeout $(TEST_TIMEOUT) -json $(TESTFLAGS) $(PUREGO_PKGS) || rc=1; \
		fi; \
		if [ -n "$(strip $(ALLOC_PKGS))" ]; then \
			echo "=== again without -race, allocation tests only: $(strip $(ALLOC_PKGS))"; \
			$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -json -run "$(ALLOC_TESTS)" $(ALLOC_PKGS) || rc=1; \
		fi; exit $$rc; } 2>&1 | $(TESTSUM) -v'

demo: deps tools
	$(WITHEMULATORS) -- $(GO) run ./examples/demo $(DEMOFLAGS)

bench: deps tools
	$(WITHEMULATORS) -kinesalite -- $(GO) run ./internal/cmd/bench $(BENCHFLAGS)

# Each mutant runs only its own tests. The operator command's
# (cmd/shardwise) need the DynamoDB emulator, so the run has emulators;
# those the chaos suite kills start emulators of their own.
mutants: deps tools
	$(WITHEMULATORS) -- $(GO) run ./internal/cmd/mutants $(MUTANTSFLAGS)

chaos: deps tools
	$(WITHEMULATORS) -- $(GO) run ./internal/chaos/cmd/chaos $(CHAOSFLAGS)

# One go test at a time (-p 1) and no -race: it shares the machine.
mutants-auto:
	$(GO) run ./internal/cmd/mutants -auto $(MUTANTSAUTOFLAGS)

fault-matrix:
	$(GO) test -count=1 -run '^TestFaultMatrix$$' -v ./internal/scenario | grep -E '^ +\|' | sed -E 's/^ +//'

# go vet, plus go vet -tags purego of PUREGO_PKGS and a check that the
# purego build of those packages holds no assembly.
vet:
	$(GO) vet ./...
ifneq ($(strip $(PUREGO_PKGS)),)
	$(GO) vet -tags purego $(PUREGO_PKGS)
	@asm="$$($(GO) list -tags purego -f '{{if .SFiles}}{{.ImportPath}}: {{.SFiles}}{{end}}' $(PUREGO_PKGS))"; \
	if [ -n "$$asm" ]; then \
		echo "purego: these packages still compile assembly with -tags purego:"; \
		echo "$$asm"; \
		exit 1; \
	fi
endif

# The default checks. The purego build is checked too: code that only the
# assembly path uses shows up there as unused.
staticcheck:
	$(STATICCHECK) ./...
ifneq ($(strip $(PUREGO_PKGS)),)
	$(STATICCHECK) -tags purego $(PUREGO_PKGS)
endif

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
