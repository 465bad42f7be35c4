# The two commands of README.md: `make demo` and `make test`.
GO ?= go
# Fuzz budgets count executions, not seconds: a duration budget races Go's
# fuzz coordinator at its deadline (golang/go#75804, fixed in Go 1.27) and
# fails with "context deadline exceeded" and no input on a loaded machine.
FUZZTIME ?= 20000x
# The commit and build date `noctua version` prints when the binary carries
# no VCS stamp (GOFLAGS=-buildvcs=false, a tarball, a worktree Go cannot read).
LDFLAGS ?= -X main.commit=$(shell git rev-parse HEAD 2>/dev/null) -X main.buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

.PHONY: demo build test deps unit fuzz bench

## demo: build and run Noctua on the embedded store with a live demo load.
demo:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/noctua serve --demo

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/noctua ./cmd/noctua

deps:
	./scripts/deps.sh

## test: install test dependencies, then run every test, the browser test and short fuzz runs.
test: deps unit fuzz

unit:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

## fuzz: short runs of the fuzz tests of every decoder of outside input.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./ingest/otlp/
	$(GO) test -run='^$$' -fuzz='^FuzzWireVsPdata$$' -fuzztime=$(FUZZTIME) ./ingest/otlp/
	$(GO) test -run='^$$' -fuzz='^FuzzLogsDecode$$' -fuzztime=$(FUZZTIME) ./ingest/otlp/
	$(GO) test -run='^$$' -fuzz='^FuzzMetricsDecode$$' -fuzztime=$(FUZZTIME) ./ingest/otlp/
	$(GO) test -run='^$$' -fuzz='^FuzzPushDecode$$' -fuzztime=$(FUZZTIME) ./ingest/lokipush/
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeBatch$$' -fuzztime=$(FUZZTIME) ./store/embedded/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./ingest/scrape/

## bench: the whole-system benchmarks of benchmarks/README.md.
bench:
	$(GO) test -run='^$$' -bench=. -benchtime=1x -timeout 60m ./benchmarks/
