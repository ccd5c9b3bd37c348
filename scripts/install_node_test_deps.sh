#!/usr/bin/env bash
# Install what tests/e2e/test_graphql_http_audit.py needs, idempotently: the
# graphql-http@1 audit suite (and its peer graphql@16) from npm into
# "${PRIVCHAT_NODE_DEPS_DIR:-.cache/node}" (relative to the repository root), never
# into a node_modules/ of the repository itself.
# Exits non-zero when npm is missing or the install fails, so CI notices; the e2e
# test then skips (or fails under PRIVCHAT_REQUIRE_SERVICES=1) with the reason.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

NODE_DEPS_DIR="${PRIVCHAT_NODE_DEPS_DIR:-.cache/node}"

log() { printf 'install_node_test_deps: %s\n' "$*" >&2; }

installed() {
  [ -f "$NODE_DEPS_DIR/node_modules/graphql-http/package.json" ] \
    && [ -f "$NODE_DEPS_DIR/node_modules/graphql/package.json" ]
}

if installed; then
  log "graphql-http and graphql present in $NODE_DEPS_DIR"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  log "npm not found: install Node.js >= 18 (with npm) first"
  exit 1
fi
log "installing graphql-http@1 and graphql@16 into $NODE_DEPS_DIR"
mkdir -p "$NODE_DEPS_DIR"
npm install --prefix "$NODE_DEPS_DIR" --no-audit --no-fund --loglevel=error graphql-http@1 graphql@16 >/dev/null
installed
log "installed graphql-http $(node -p "require('$(cd "$NODE_DEPS_DIR" && pwd)/node_modules/graphql-http/package.json').version")"
