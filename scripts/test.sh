#!/usr/bin/env bash
# The whole suite: lint, tests on SQLite, tests on PostgreSQL + Redis.
# Without PostgreSQL/Redis the second part is skipped and says so; with
# PRIVCHAT_REQUIRE_SERVICES=1 (CI) that skip is a failure.
#
# Each pass runs in two steps: the tests not marked `serial` on PRIVCHAT_TEST_WORKERS
# pytest-xdist workers (default 2; whole files per worker, so a module's server process
# is still shared by its tests; 0 runs them in this process), then the `serial` ones
# (timing- or load-sensitive: soak, chaos) alone. Arguments go to pytest in both steps.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORKERS="${PRIVCHAT_TEST_WORKERS:-2}"

echo "== lint (ruff, mypy, import-linter)"
$BIN/ruff check app schema resolvers gateway_native tests bench
$BIN/mypy app
$BIN/lint-imports

# One step of a pass; "no tests collected" (5: e.g. only serial tests were asked for)
# counts as passed, unless neither step of the pass ran a test (EMPTY_STEPS reaches 2).
EMPTY_STEPS=0
step() {
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then
        EMPTY_STEPS=$((EMPTY_STEPS + 1))
        rc=0
    fi
    return "$rc"
}

# run_pass NAME BACKEND [pytest args...]: both steps; says which pass and step failed.
run_pass() {
    local name=$1 backend=$2
    shift 2
    local start=$SECONDS
    EMPTY_STEPS=0
    echo "== tests on $name: in parallel ($WORKERS workers)"
    if ! step env PRIVCHAT_TEST_BACKEND="$backend" $BIN/pytest -q -p no:cacheprovider \
        -n "$WORKERS" --dist loadfile -m "not serial" "$@"; then
        echo "FAILED: tests on $name (the parallel step; failures listed above)" >&2
        return 1
    fi
    echo "== tests on $name: serial"
    if ! step env PRIVCHAT_TEST_BACKEND="$backend" $BIN/pytest -q -p no:cacheprovider -m serial "$@"; then
        echo "FAILED: tests on $name (the serial step; failures listed above)" >&2
        return 1
    fi
    if [ "$EMPTY_STEPS" -ge 2 ]; then
        echo "FAILED: tests on $name: no test ran (a run that executes no test is broken)" >&2
        return 1
    fi
    echo "== tests on $name passed in $((SECONDS - start)) s"
}

run_pass "SQLite + in-memory bus" sqlite "$@"

echo "== tests on PostgreSQL + Redis"
if reason=$($BIN/python -c "
from tests.support.backends import services_available
ok, why = services_available()
print(why)
raise SystemExit(0 if ok else 1)
"); then
    run_pass "PostgreSQL + Redis" postgres "$@"
else
    if [ "${PRIVCHAT_REQUIRE_SERVICES:-0}" = "1" ]; then
        echo "FAILED: PostgreSQL/Redis are required (PRIVCHAT_REQUIRE_SERVICES=1): $reason" >&2
        exit 1
    fi
    echo "SKIPPED: the PostgreSQL + Redis part did not run: $reason"
    echo "         (start PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379, or set"
    echo "          PRIVCHAT_TEST_PG_URL / PRIVCHAT_TEST_REDIS_URL, to run it)"
fi
