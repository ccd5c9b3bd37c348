# The two commands of the README: `make run` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint test-sqlite test-postgres clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

## Start the server on embedded defaults: SQLite in ./data, in-memory bus, dev JWT secret.
run: $(STAMP)
	$(BIN)/privchat-server --dev

## Lint, then the whole suite on SQLite and (when reachable) on PostgreSQL + Redis.
test: $(STAMP)
	@bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check app schema resolvers gateway_native tests bench
	$(BIN)/mypy app
	$(BIN)/lint-imports

test-sqlite: $(STAMP)
	PRIVCHAT_TEST_BACKEND=sqlite $(BIN)/pytest -q

test-postgres: $(STAMP)
	PRIVCHAT_TEST_BACKEND=postgres $(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
