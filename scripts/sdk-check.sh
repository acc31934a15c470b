#!/usr/bin/env bash
# Runs HighLevel's official SDKs, unchanged, against `ghlsync sandbox`:
# npm @gohighlevel/api-client and PyPI gohighlevel-api-client, each pinned below.
#
# usage: scripts/sdk-check.sh [PATH_TO_GHLSYNC]
#   PATH_TO_GHLSYNC  default target/release/ghlsync, else target/debug/ghlsync
#   SDK_CHECK_DIR    install the SDKs there and keep them (default: a temp dir, removed)
#   GHL_SDK_TRACE=1  print every request the SDKs send, not only those of failed calls
#
# Needs node >= 18, npm, python3 >= 3.9 and the npm registry and PyPI.
# Exits non-zero when any call failed.
set -euo pipefail
cd "$(dirname "$0")/.."

JS_SDK_VERSION=3.1.0
PY_SDK_VERSION=3.0.0

bin=${1:-}
if [ -z "$bin" ]; then
  if [ -x target/release/ghlsync ]; then bin=target/release/ghlsync; else bin=target/debug/ghlsync; fi
fi
[ -x "$bin" ] || { echo "sdk-check: no executable $bin" >&2; exit 2; }

if [ -n "${SDK_CHECK_DIR:-}" ]; then
  work=$SDK_CHECK_DIR
  mkdir -p "$work"
  keep=1
else
  work=$(mktemp -d)
  keep=0
fi
sandbox_pid=
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  if [ "$keep" = 0 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

echo "sdk-check: installing @gohighlevel/api-client@$JS_SDK_VERSION and gohighlevel-api-client==$PY_SDK_VERSION in $work" >&2
mkdir -p "$work/js"
if [ ! -f "$work/js/node_modules/@gohighlevel/api-client/package.json" ] ||
   ! grep -q "\"version\": \"$JS_SDK_VERSION\"" "$work/js/node_modules/@gohighlevel/api-client/package.json"; then
  [ -f "$work/js/package.json" ] || echo '{"private": true}' >"$work/js/package.json"
  (cd "$work/js" && npm install --no-audit --no-fund --loglevel=error "@gohighlevel/api-client@$JS_SDK_VERSION" >&2)
fi
if [ ! -x "$work/py/bin/python" ]; then python3 -m venv "$work/py"; fi
"$work/py/bin/python" -m pip install --quiet --disable-pip-version-check "gohighlevel-api-client==$PY_SDK_VERSION" >&2

echo "sdk-check: starting $bin sandbox" >&2
"$bin" sandbox --listen 127.0.0.1:0 --seed 20 >"$work/sandbox.json" 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 1 300); do
  [ "$(wc -l <"$work/sandbox.json")" -ge 1 ] && break # a whole line
  kill -0 "$sandbox_pid" 2>/dev/null || { echo "sdk-check: the sandbox exited:" >&2; cat "$work/sandbox.log" >&2; exit 2; }
  sleep 0.1
done
[ "$(wc -l <"$work/sandbox.json")" -ge 1 ] || { echo "sdk-check: the sandbox printed no JSON line in 30 s" >&2; exit 2; }

status=0
echo "== npm @gohighlevel/api-client"
GHL_SDK_JS_DIR="$work/js" node scripts/sdk/check_js.mjs "$work/sandbox.json" || status=1
echo "== PyPI gohighlevel-api-client"
"$work/py/bin/python" scripts/sdk/check_py.py "$work/sandbox.json" || status=1

if [ "$status" = 0 ]; then echo "sdk-check: all SDK calls passed"; else echo "sdk-check: some SDK calls failed"; fi
exit "$status"
