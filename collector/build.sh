#!/usr/bin/env bash
# Builds the two Go programs the collector tests and `make jaeger` run, from their Go modules
# (the Go module proxy is the only source), into a cache outside the repo:
#
#   $OTEL_CONTEXT_GO_CACHE/otelcol-<version>-<manifest hash>/otelcol-otel-context
#   $OTEL_CONTEXT_GO_CACHE/jaeger-<v2 version>/jaeger
#
# OTEL_CONTEXT_GO_CACHE defaults to ${XDG_CACHE_HOME:-~/.cache}/otel_context/go; GOPATH, the
# module cache and the build cache live under it too. A binary that exists is reused (a warm
# run takes well under a second). Prints the two binaries' paths, one a line, on stdout.
# Exit status 3: no Go toolchain (the tests skip, or fail under CI=true).
#
#   collector/build.sh [otelcol|jaeger|all]     (default: all)
set -euo pipefail

# The versions: the collector's is the manifest's (builder-config.yaml) and docker-compose's;
# Jaeger v2.N is published as Go module github.com/jaegertracing/jaeger v1.(N+63).
OTELCOL_VERSION=0.159.0
JAEGER_MODULE_VERSION=v1.75.0
JAEGER_VERSION=2.12.0

here="$(cd "$(dirname "$0")" && pwd)"
manifest="$here/builder-config.yaml"
what="${1:-all}"

# OTEL_CONTEXT_GO names the go command to use; otherwise go on PATH, or a usual install.
if [ -n "${OTEL_CONTEXT_GO:-}" ]; then
  [ -x "$OTEL_CONTEXT_GO" ] || { echo "build.sh: no Go toolchain at OTEL_CONTEXT_GO=$OTEL_CONTEXT_GO" >&2; exit 3; }
  PATH="$(dirname "$OTEL_CONTEXT_GO"):$PATH"
elif ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin "$HOME/go/bin" /usr/lib/go/bin; do
    [ -x "$d/go" ] && PATH="$PATH:$d" && break
  done
fi
command -v go >/dev/null 2>&1 || { echo "build.sh: no Go toolchain (go on PATH, /usr/local/go/bin)" >&2; exit 3; }

cache="${OTEL_CONTEXT_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otel_context/go}"
mkdir -p "$cache"
export GOPATH="$cache/gopath" GOMODCACHE="$cache/gopath/pkg/mod" GOCACHE="$cache/build-cache"
export GOFLAGS="-mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0
# Only the module proxy: no fall-back to fetching repositories directly.
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
case "$GOPROXY" in *direct*) GOPROXY="${GOPROXY//,direct/}"; GOPROXY="${GOPROXY//|direct/}" ;; esac

log() { echo "build.sh: $*" >&2; }

# One build at a time per cache (tests of several sessions may call this together).
exec 9>"$cache/.lock"
flock 9

build_otelcol() {
  local hash dir bin builder
  hash="$(sha256sum "$manifest" | cut -c1-12)"
  dir="$cache/otelcol-$OTELCOL_VERSION-$hash"
  bin="$dir/otelcol-otel-context"
  if [ ! -x "$bin" ]; then
    builder="$cache/bin/builder-$OTELCOL_VERSION"
    if [ ! -x "$builder" ]; then
      log "installing go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
      GOBIN="$cache/bin/tmp-builder" go install "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
      mkdir -p "$cache/bin"
      mv "$cache/bin/tmp-builder/builder" "$builder"
      rmdir "$cache/bin/tmp-builder"
    fi
    log "building the collector $OTELCOL_VERSION (a few minutes cold)"
    local work="$dir.tmp"
    rm -rf "$work"
    mkdir -p "$work"
    "$builder" --config="$manifest" --output-path="$work/src" >&2
    mv "$work/src/otelcol-otel-context" "$work/otelcol-otel-context"
    rm -rf "$work/src" "$dir"
    mv "$work" "$dir"
  fi
  echo "$bin"
}

build_jaeger() {
  local dir="$cache/jaeger-$JAEGER_VERSION" bin src tmp
  bin="$dir/jaeger"
  if [ ! -x "$bin" ]; then
    log "building Jaeger $JAEGER_VERSION (module github.com/jaegertracing/jaeger $JAEGER_MODULE_VERSION)"
    # The module has replace directives, so `go install …@version` refuses it: build inside
    # its own source directory (from the module cache, copied to be writable).
    src="$(cd "$cache" && go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION" \
      | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$src" ] || { log "go mod download found no source for jaeger $JAEGER_MODULE_VERSION"; exit 4; }
    tmp="$dir.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    cp -r "$src" "$tmp/src"
    chmod -R u+w "$tmp/src"
    (cd "$tmp/src" && go build -trimpath -ldflags "-s -w \
      -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_VERSION" \
      -o "$tmp/jaeger" ./cmd/jaeger) >&2
    rm -rf "$tmp/src" "$dir"
    mv "$tmp" "$dir"
  fi
  echo "$bin"
}

case "$what" in
  otelcol) build_otelcol ;;
  jaeger) build_jaeger ;;
  all) build_otelcol; build_jaeger ;;
  *) echo "usage: $0 [otelcol|jaeger|all]" >&2; exit 2 ;;
esac
