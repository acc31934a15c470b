#!/usr/bin/env bash
# The test command: starts PostgreSQL when it is not running, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${GHLSYNC_DATABASE_URL:-}" ]; then
  GHLSYNC_DATABASE_URL=$(./scripts/pg-up.sh)
  export GHLSYNC_DATABASE_URL
fi
case "$GHLSYNC_DATABASE_URL" in
  postgres://*|postgresql://*) ;;
  *) echo "test: GHLSYNC_DATABASE_URL is not a postgres:// URL; unset it to let scripts/pg-up.sh start PostgreSQL" >&2; exit 1 ;;
esac
echo "test: PostgreSQL at ${GHLSYNC_DATABASE_URL%%@*}@***" >&2

cargo test --workspace --locked
