#!/usr/bin/env bash
# Install the Node packages of the end-to-end tests, exactly as pinned by
# tests/e2e/node/package-lock.json (npm ci), into "${PRIVCHAT_NODE_DEPS_DIR:-.cache/node}"
# (relative to the repository root), never into a node_modules/ of the repository itself:
#   graphql-http (the GraphQL-over-HTTP audit), playwright-core and axe-core (the web
#   client in Chromium), @apollo/client, @urql/core, graphql-ws, ws (third-party clients).
# Idempotent: nothing is done when the installed lock file is the committed one.
# Exits non-zero when npm is missing or the install fails, so CI notices; the e2e tests
# then skip (or fail under PRIVCHAT_REQUIRE_SERVICES=1) with the reason.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

LOCK_DIR="tests/e2e/node"
NODE_DEPS_DIR="${PRIVCHAT_NODE_DEPS_DIR:-.cache/node}"

log() { printf 'install_node_test_deps: %s\n' "$*" >&2; }

if cmp -s "$LOCK_DIR/package-lock.json" "$NODE_DEPS_DIR/package-lock.json" \
    && [ -d "$NODE_DEPS_DIR/node_modules/playwright-core" ]; then
  log "node test packages present in $NODE_DEPS_DIR (lock unchanged)"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  log "npm not found: install Node.js >= 20 (with npm) first"
  exit 1
fi
log "installing the node test packages pinned by $LOCK_DIR/package-lock.json into $NODE_DEPS_DIR"
mkdir -p "$NODE_DEPS_DIR"
cp "$LOCK_DIR/package.json" "$LOCK_DIR/package-lock.json" "$NODE_DEPS_DIR/"
# No browser download (playwright-core has no install script; --ignore-scripts anyway).
(cd "$NODE_DEPS_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
log "installed: $(cd "$NODE_DEPS_DIR" && node -p "Object.entries(require('./package.json').dependencies).map(([k, v]) => k + '@' + v).join(' ')")"
