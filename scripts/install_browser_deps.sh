#!/usr/bin/env bash
# Install what tests/e2e/test_graphiql_offline.py needs, idempotently:
#   * Chromium from Debian's packages (/usr/bin/chromium), only when missing and when
#     running as root (otherwise a hint is printed and the test will skip);
#   * playwright-core@1 from npm into "${PRIVCHAT_PLAYWRIGHT_DIR:-.cache/playwright}"
#     (relative to the repository root). playwright-core downloads no browser.
# Never fails the caller because a tool is unavailable: the e2e test skips with a reason.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

PLAYWRIGHT_DIR="${PRIVCHAT_PLAYWRIGHT_DIR:-.cache/playwright}"
case "$PLAYWRIGHT_DIR" in /*) ;; *) PLAYWRIGHT_DIR="$REPO_ROOT/$PLAYWRIGHT_DIR" ;; esac
CHROMIUM="${PRIVCHAT_CHROMIUM:-/usr/bin/chromium}"

log() { printf 'install_browser_deps: %s\n' "$*" >&2; }

# --- Chromium -----------------------------------------------------------------------------
if [ -x "$CHROMIUM" ]; then
  log "chromium present at $CHROMIUM"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    log "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  else
    log "WARNING: apt-get install chromium failed; the GraphiQL browser test will skip"
  fi
else
  log "chromium missing and not root (or no apt-get): skipping; the GraphiQL browser test will skip"
fi

# --- a colour emoji font (reactions and the web client's screenshots) --------------------
if fc-list 2>/dev/null | grep -qi "Noto Color Emoji"; then
  log "emoji font present"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends fonts-noto-color-emoji >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-noto-color-emoji >/dev/null; } \
    || log "WARNING: fonts-noto-color-emoji could not be installed (emoji show as boxes in screenshots)"
fi

# --- playwright-core ----------------------------------------------------------------------
if [ -f "$PLAYWRIGHT_DIR/node_modules/playwright-core/package.json" ]; then
  log "playwright-core present in $PLAYWRIGHT_DIR"
elif command -v npm >/dev/null 2>&1; then
  log "installing playwright-core@1 into $PLAYWRIGHT_DIR"
  mkdir -p "$PLAYWRIGHT_DIR"
  # No browser download: playwright-core has no install script, and we make sure anyway.
  if PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$PLAYWRIGHT_DIR" \
      --no-audit --no-fund --loglevel=error playwright-core@1 >/dev/null; then
    log "playwright-core $(node -p "require('$PLAYWRIGHT_DIR/node_modules/playwright-core/package.json').version" 2>/dev/null || true) installed"
  else
    log "WARNING: npm install playwright-core failed; the GraphiQL browser test will skip"
  fi
else
  log "npm not found: skipping playwright-core; the GraphiQL browser test will skip"
fi
