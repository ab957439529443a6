#!/usr/bin/env bash
# Build and run our rebuild of the Go tutorial's design (bench/go-tutorial/README.md).
# Offline: Debian's Go 1.19 and Debian's packaged libraries, GOPATH mode.
#
#   bench/go-tutorial/run.sh install                 apt-get install the Go packages (root)
#   bench/go-tutorial/run.sh build                   -> target/go-tutorial/business-importer
#   bench/go-tutorial/run.sh serve  DSN [ADDR]       the Gin service (default :8080)
#   bench/go-tutorial/run.sh import DSN FILE [METHOD] one import, JSON on stdout, exit
#   bench/go-tutorial/run.sh parse  FILE             read the sheet into memory only
#   bench/go-tutorial/run.sh compare [ARGS…]         bench/go-tutorial/compare.py ARGS…
#
# DSN is lib/pq's: postgres://postgres@127.0.0.1:5432/DB?sslmode=disable
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/target/go-tutorial/business-importer"
packages=(golang-go golang-github-gin-gonic-gin-dev golang-github-jinzhu-gorm-dev
          golang-github-lib-pq-dev golang-github-tealeg-xlsx-dev)

build() {
    command -v go >/dev/null || { echo "no go: run '$0 install' first" >&2; exit 1; }
    mkdir -p "$(dirname "$bin")"
    # GOPATH mode: imports resolve from Debian's /usr/share/gocode, no module proxy.
    GO111MODULE=off GOPATH="$root/target/go-tutorial/gopath:/usr/share/gocode" \
        go build -o "$bin" "$here/main.go"
    echo "$bin"
}

cmd="${1:-build}"
shift || true
case "$cmd" in
    install)
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
        ;;
    build) build ;;
    serve)
        [ -x "$bin" ] || build >/dev/null
        exec "$bin" -dsn "$1" -addr "${2:-:8080}"
        ;;
    import)
        [ -x "$bin" ] || build >/dev/null
        exec "$bin" -dsn "$1" -import "$2" -method "${3:-batch}"
        ;;
    parse)
        [ -x "$bin" ] || build >/dev/null
        exec "$bin" -parse-only "$1"
        ;;
    compare)
        build >/dev/null
        exec python3 "$here/compare.py" "$@"
        ;;
    *) echo "unknown command: $cmd (install|build|serve|import|parse|compare)" >&2; exit 2 ;;
esac
