#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each), seeded from
# the shared corpus (read in place, never copied into the project):
# $SHEETPIPE_CORPUS, else ../shared/corpus, else ../../shared/corpus.
# Needs: a nightly toolchain and `cargo install cargo-fuzz`.
#   fuzz/run.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(xlsx xls xlsb ods csv header_rows)
corpus=""
for d in "${SHEETPIPE_CORPUS:-}" ../shared/corpus ../../shared/corpus; do
  [ -n "$d" ] && [ -d "$d" ] && corpus="$(cd "$d" && pwd)" && break
done
failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  seeds=()
  if [ -n "$corpus" ] && [ "$t" != header_rows ]; then seeds=("$corpus"); fi
  echo "== fuzz target $t for ${secs}s"
  cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -max_len=4194304 \
    || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "findings (see fuzz/artifacts/): ${failed[*]}" >&2
  exit 1
fi
