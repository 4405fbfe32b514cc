GO ?= go

# Version stamping for github.com/prometheus/common/version. Every value can
# be overridden on the command line or from the environment (the Dockerfile
# passes them as build args, since .git is not in its build context).
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_USER ?= $(shell id -un 2>/dev/null || echo unknown)@$(shell hostname 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
# Where `make build` writes the binary.
BIN        ?= debt_exporter

VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

STATICCHECK_VERSION := v0.8.2
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
# The installed binary if it is the pinned version (.ci/run installs it),
# else run the pinned version through the module proxy.
STATICCHECK := $(shell $(GOBIN_DIR)/staticcheck -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))' \
	&& echo $(GOBIN_DIR)/staticcheck || echo $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION))

DOCKER ?= docker
DOCKER_IMAGE ?= debt-exporter

.PHONY: build test test-timing test-charts sync-chart lint e2e bench demo docker

# The one build command: the Dockerfile runs `make build` too, and
# e2e/build_test.go checks that both agree and that the result is static
# and stamped.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# All tests, including the end-to-end ones (they need promtool, prometheus,
# prometheus-alertmanager and amtool: see .ci/run).
# The last line runs the tests that measure the pace against a real-time,
# rate-limited API alone, after the others, so that a busy machine does not
# skew them (make test-timing runs only those).
test:
	$(GO) test -count=1 ./...
	$(TEST_PUREGO)
	$(TEST_CHARTS)
	$(TEST_TIMING)

# The decoder's tests again without its SSE2 stop index (jsonindex_amd64.s):
# the eight-bytes-at-a-time index that every other architecture uses.
TEST_PUREGO = $(GO) test -count=1 -tags purego ./apiclient/ ./collector/

TEST_TIMING = DEBT_EXPORTER_TIMING_TESTS=1 $(GO) test -count=1 -run 'TestThrottledGateway|TestRandomThrottles|TestRetryAfter' ./apiclient/

test-timing:
	$(TEST_TIMING)

# The Helm chart's checks (charts/test, a module of its own so that the
# Kubernetes libraries stay out of the exporter's): helm lint and template on
# every ci/ values file, strict decoding, promtool on the rendered rules,
# dashboards and copies compared with their sources. Needs helm (see .ci/run).
TEST_CHARTS = cd charts/test && $(GO) test -count=1 ./...
test-charts:
	$(TEST_CHARTS)

# Helm reads no file outside the chart: copy the rule files and dashboards
# into it. make test-charts fails while the copies differ.
CHART_FILES := charts/debt-exporter/files
sync-chart:
	rm -f $(CHART_FILES)/alerts/*.yaml $(CHART_FILES)/dashboards/*.json
	cp alerts/*.yaml $(CHART_FILES)/alerts/
	cp dashboards/*.json $(CHART_FILES)/dashboards/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	cd charts/test && $(GO) vet ./...
	$(STATICCHECK) ./...

# End-to-end tests only: the root package's (main_test.go runs the binary)
# and ./e2e (Prometheus, Alertmanager and promtool on the exporter's real
# output; README, examples, Dockerfile, rules, dashboards, mixin).
e2e:
	@pkgs=". ./e2e/..."; \
	echo $(GO) test -count=1 $$pkgs; $(GO) test -count=1 $$pkgs

bench:
	@if [ -d bench/cmd/benchtable ]; then \
		echo $(GO) run ./bench/cmd/benchtable; $(GO) run ./bench/cmd/benchtable; \
	else \
		echo $(GO) test -run XXX -bench . ./...; $(GO) test -run XXX -bench . ./...; \
	fi

demo:
	$(GO) run . --demo

docker:
	$(DOCKER) build \
		--build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(REVISION) \
		--build-arg BRANCH=$(BRANCH) \
		--build-arg BUILD_USER=$(BUILD_USER) \
		--build-arg BUILD_DATE=$(BUILD_DATE) \
		-t $(DOCKER_IMAGE):$(VERSION) .
