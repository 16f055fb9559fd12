# Convenience targets; the README's two commands need none of them.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test run ci bench clean

build:
	go build -ldflags "$(LDFLAGS)" -o bin/radiusd ./cmd/radiusd
	go build -ldflags "$(LDFLAGS)" -o bin/radiusctl ./cmd/radiusctl

test:
	go test -race ./...

run:
	go run ./cmd/radiusd -config config.hcl.example

ci:
	bash .ci/run

# radgate against FreeRADIUS on this machine (docs/performance.md).
bench:
	bash bench/run.sh

clean:
	rm -rf bin radgate.db radgate.db-* radgate.key
