#!/usr/bin/env bash
# The whole suite: lint, tests on SQLite, tests on PostgreSQL + Redis.
# Without PostgreSQL/Redis the second part is skipped and says so; with
# PRIVCHAT_REQUIRE_SERVICES=1 (CI) that skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== lint (ruff, mypy, import-linter)"
$BIN/ruff check app schema resolvers gateway_native tests bench
$BIN/mypy app
$BIN/lint-imports

echo "== tests on SQLite + in-memory bus"
PRIVCHAT_TEST_BACKEND=sqlite $BIN/pytest -q -p no:cacheprovider "$@"

echo "== tests on PostgreSQL + Redis"
if reason=$($BIN/python -c "
from tests.support.backends import services_available
ok, why = services_available()
print(why)
raise SystemExit(0 if ok else 1)
"); then
    PRIVCHAT_TEST_BACKEND=postgres $BIN/pytest -q -p no:cacheprovider "$@"
else
    if [ "${PRIVCHAT_REQUIRE_SERVICES:-0}" = "1" ]; then
        echo "FAILED: PostgreSQL/Redis are required (PRIVCHAT_REQUIRE_SERVICES=1): $reason" >&2
        exit 1
    fi
    echo "SKIPPED: the PostgreSQL + Redis part did not run: $reason"
    echo "         (start PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379, or set"
    echo "          PRIVCHAT_TEST_PG_URL / PRIVCHAT_TEST_REDIS_URL, to run it)"
fi
