#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 60) from its corpus in fuzz/corpus/.
# Needs the nightly toolchain and cargo-fuzz (docs/FUZZING.md); not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
case "$secs" in ''|*[!0-9]*) echo "fuzz: seconds must be a number, got $secs" >&2; exit 2 ;; esac
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/ghlsync-fuzz-target}"
for target in ghl_webhook lofty_webhook sync_file expression config; do
  mkdir -p "corpus/$target"
  echo "== $target ($secs s)"
  # A scratch copy: what a run finds is not added to the committed seeds.
  scratch=$(mktemp -d)
  cp -r "corpus/$target/." "$scratch/"
  cargo +nightly fuzz run "$target" "$scratch" -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 \
    | grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs|ERROR|panicked|SUMMARY" || true
  rm -rf "$scratch"
done
