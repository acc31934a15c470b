#!/usr/bin/env bash
# The test command: starts PostgreSQL when it is not running, then runs every test.
#   ./scripts/test.sh          the suite, with the sandboxes' rate limits lifted
#                              where a test needs volume (what CI runs)
#   ./scripts/test.sh --soak   the long sync tests (first-time race, Lofty batch
#                              reads, backfill crash, 20 random SIGKILLs) with GHL's and Lofty's real
#                              limit shapes: 100 requests / 10 s per location, 100
#                              a minute per Lofty credential; takes an hour or more
set -euo pipefail
cd "$(dirname "$0")/.."

soak=false
for arg in "$@"; do
  case "$arg" in
    --soak) soak=true ;;
    *) echo "test: unknown option $arg (use --soak, or nothing)" >&2; exit 2 ;;
  esac
done

if [ -z "${GHLSYNC_DATABASE_URL:-}" ]; then
  GHLSYNC_DATABASE_URL=$(./scripts/pg-up.sh)
  export GHLSYNC_DATABASE_URL
fi
case "$GHLSYNC_DATABASE_URL" in
  postgres://*|postgresql://*) ;;
  *) echo "test: GHLSYNC_DATABASE_URL is not a postgres:// URL; unset it to let scripts/pg-up.sh start PostgreSQL" >&2; exit 1 ;;
esac
echo "test: PostgreSQL at ${GHLSYNC_DATABASE_URL%%@*}@***" >&2

if $soak; then
  export GHLSYNC_SOAK=1
  echo "test: soak run, real rate limits (GHLSYNC_SOAK=1)" >&2
  cargo test --locked --release -p testkit --test sync_race --test sync_batch --test sync_loop
  cargo test --locked --release -p ghlsync --test backfill_crash -- --include-ignored
  exit 0
fi
cargo test --workspace --locked
