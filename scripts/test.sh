#!/usr/bin/env bash
# The test command: starts PostgreSQL when it is not running, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${GHLSYNC_DATABASE_URL:-}" ]; then
  GHLSYNC_DATABASE_URL=$(./scripts/pg-up.sh)
  export GHLSYNC_DATABASE_URL
fi
echo "test: PostgreSQL at ${GHLSYNC_DATABASE_URL%%@*}@***" >&2

cargo test --workspace --locked
