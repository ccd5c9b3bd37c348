#!/usr/bin/env bash
# Re-create app/static/webclient/vendor/ from the versions pinned in
# scripts/web_client/package-lock.json: Preact, its hooks, htm and the graphql-ws client,
# as plain ES modules the browser loads as they are (no build step, no bundler).
#
#   bash scripts/vendor_web_client.sh          # rewrite the vendored files
#   bash scripts/vendor_web_client.sh --check  # fail if they differ from what the lock gives
#
# To upgrade a library: change its version in scripts/web_client/package.json, run
# `npm install --package-lock-only` in that folder, then this script, then the browser
# tests (tests/e2e/test_web_client.py). tests/unit/test_web_client_assets.py checks that
# every vendored file matches the SHA-256 recorded in vendor/VERSIONS.txt.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK_DIR="$REPO_ROOT/scripts/web_client"
VENDOR_DIR="$REPO_ROOT/app/static/webclient/vendor"
MODE="${1:-write}"

command -v npm >/dev/null 2>&1 || { echo "vendor_web_client: npm (Node.js >= 20) is needed" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$LOCK_DIR/package.json" "$LOCK_DIR/package-lock.json" "$WORK/"
# `npm ci` installs exactly the lock file (and fails if it does not match package.json).
(cd "$WORK" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

OUT="$WORK/vendor"
node "$LOCK_DIR/vendor.mjs" "$WORK/node_modules" "$OUT"

if [ "$MODE" = "--check" ]; then
  if diff -r "$OUT" "$VENDOR_DIR" >/dev/null; then
    echo "vendor_web_client: app/static/webclient/vendor matches the lock file"
  else
    diff -r "$OUT" "$VENDOR_DIR" | head -20 >&2
    echo "vendor_web_client: app/static/webclient/vendor differs from the lock file; run scripts/vendor_web_client.sh" >&2
    exit 1
  fi
else
  rm -rf "$VENDOR_DIR"
  cp -r "$OUT" "$VENDOR_DIR"
  echo "vendor_web_client: wrote $(find "$VENDOR_DIR" -type f | wc -l) files to app/static/webclient/vendor"
fi
