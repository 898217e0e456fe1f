# Handoff. The two commands: `make run` starts the local stack, `make test` runs every test.
# Everything else here serves those two, SAM's builds, and the benchmarks.

GO        ?= go
# An execution count, not a duration: Go 1.26's fuzz coordinator can fail a target with a bare
# "context deadline exceeded" when a duration runs out under load (golang/go#75804, fixed in 1.27).
FUZZTIME  ?= 2000x
# Flags that build each function as Lambda runs it: a static `bootstrap` for provided.al2023.
LAMBDA_BUILD := CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w"
# moto_server and cfn-lint: the ones on PATH, else scripts/tools.sh installs pinned versions into
# .local/venv, which comes last on PATH so it never shadows a tool the machine has.
export PATH := $(PATH):$(CURDIR)/.local/venv/bin
# staticcheck comes through the Go module proxy at a pinned version; go run caches the build.
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test unit fuzz lint tools tools-run tools-test bench build load

## run: the whole local stack (moto, vendor sandboxes, the four functions behind a local gateway)
# Built, then run (not `go run`): go run turns the Ctrl-C that stops the stack into exit status 1.
run: tools-run
	@$(GO) build -o build/handoff-local ./scripts/localstack
	@./build/handoff-local

## test: vet, template lint, every unit and integration test, then short fuzz runs
test: tools-test lint unit fuzz

unit:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cfn-lint template.yaml

## fuzz: each fuzz target for FUZZTIME (go test runs one fuzz target per invocation)
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

## bench: the benchmarks with allocations, then sizes, cold starts, and CPU and memory under
## the load test (scripts/bench); README, Performance, has the budgets
bench: tools-run
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./scripts/bench

## load: the load test on a local stack of its own, on a free port (LOADFLAGS: scripts/loadgen's)
load: tools-run
	$(GO) run ./scripts/loadgen -stack $(LOADFLAGS)

# Tools are checked first: Go must be there; moto_server and cfn-lint are installed when missing.
tools-run:
	@command -v $(GO) >/dev/null || { echo "go not found: install Go 1.26.6 or later"; exit 1; }
	@scripts/tools.sh run

tools-test:
	@command -v $(GO) >/dev/null || { echo "go not found: install Go 1.26.6 or later"; exit 1; }
	@scripts/tools.sh test

# SAM's makefile build method calls build-<LogicalId> with ARTIFACTS_DIR set.
build-TransferFunction:
	GOOS=linux GOARCH=arm64 $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/transfer
build-CallbackReceiverFunction:
	GOOS=linux GOARCH=arm64 $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/callback-receiver
build-SkillCheckFunction:
	GOOS=linux GOARCH=arm64 $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/skill-check
build-BotAckFunction:
	GOOS=linux GOARCH=arm64 $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/bot-ack

## build: the four bootstraps for arm64 Lambda into build/<function>/bootstrap
build:
	@for f in transfer callback-receiver skill-check bot-ack; do \
	  GOOS=linux GOARCH=arm64 $(LAMBDA_BUILD) -o build/$$f/bootstrap ./functions/$$f || exit 1; done

## lint-template: cfn-lint on the SAM template alone (make lint runs it too)
.PHONY: lint-template
lint-template:
	cfn-lint template.yaml
