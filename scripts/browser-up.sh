#!/usr/bin/env bash
# Installs what the admin UI's browser test drives, idempotently: Debian's
# headless-capable Chromium and its chromedriver (both from the distribution, no
# download at build time). Without them `scripts/test.sh` skips that one test with
# a line saying so; CI (`CI=true`) fails instead, so `.ci/run` calls this first.
# Needs root for apt-get.
set -euo pipefail

if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
  echo "browser-up: $(chromium --version 2>/dev/null || chromium-browser --version), $(chromedriver --version | cut -d' ' -f1-2)" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "browser-up: chromium and chromedriver are not installed and this is not root; run sudo apt-get install chromium chromium-driver" >&2
  exit 1
fi
echo "browser-up: installing chromium and chromium-driver (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null; then
  # A fresh machine may not have the package lists yet.
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
fi
echo "browser-up: $(chromium --version), $(chromedriver --version | cut -d' ' -f1-2)" >&2
