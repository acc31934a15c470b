#!/usr/bin/env bash
# Starts the local PostgreSQL 15 that the scale-out tests use, idempotently:
#   postgres://postgres:postgres@127.0.0.1:5432/test
# Needs root (it runs pg_ctlcluster and switches to the postgres OS user).
# On a machine without PostgreSQL it installs Debian's package first.
set -euo pipefail

# Only the URL goes to stdout (callers capture it): everything the tools print,
# such as pg_ctlcluster's "Removed stale pid file.", goes to stderr.
exec 3>&1 1>&2

url="postgres://postgres:postgres@127.0.0.1:5432/test"

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "pg-up: PostgreSQL is not installed and this is not root; install postgresql-15 or set GHLSYNC_DATABASE_URL" >&2
    exit 1
  fi
  echo "pg-up: installing PostgreSQL (apt-get install postgresql)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "pg-up: run as root (sudo $0), or start PostgreSQL yourself and set GHLSYNC_DATABASE_URL" >&2
  exit 1
fi

version=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $1}')
version=${version:-15}
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start 3>&-  # the server must not hold the caller's pipe
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "pg-up: PostgreSQL did not become ready on 127.0.0.1:5432" >&2; exit 1; }

su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1; then
  su postgres -c "createdb test"
fi
echo "$url" >&3
