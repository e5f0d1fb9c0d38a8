# Every target that needs Python builds .venv first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The process-heavy tests (real rollbot, kubectl and PostgreSQL processes) run on both cores of
# the CI machine: each test makes its own database, ports and folders, so they share nothing.
TEST_WORKERS ?= 2

.PHONY: install demo try test lint drills bench postgres chromium clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Start the machine's PostgreSQL when it is installed but down; never fatal here:
# the tests themselves decide whether a missing server fails (CI=true) or skips.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  v=$$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1); \
	  [ -n "$$v" ] && pg_ctlcluster --skip-systemctl-redirect $$v main start 2>/dev/null; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break; sleep 1; done; \
	} || true

# The browser test needs Debian's chromium: install it when it is missing and apt-get can.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; \
	} || true

try: $(STAMP)
	$(BIN)/rollbot try

# The database scenario's shop database lives on the local PostgreSQL.
demo: $(STAMP) $(if $(filter database,$(SCENARIO)),postgres,)
	$(BIN)/rollbot demo $(if $(SCENARIO),--scenario $(SCENARIO),) $(ARGS)

# The domain's full branch coverage is held by its own tests (unit and use-case level), under
# the tracer; the rest of the suite runs without it, which would add a third to its time.
test: $(STAMP) postgres chromium
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q -p no:cacheprovider tests/unit tests/usecases $(PYTEST_ARGS)
	$(BIN)/coverage report --include='bot/domain/*' --fail-under=100
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) tests/contract tests/drills tests/e2e tests/integration $(PYTEST_ARGS)

# Every drill, the slow ones too (make test runs the fast ones).
drills: $(STAMP) postgres
	$(BIN)/pytest -q -p no:cacheprovider -m "drill or not drill" tests/drills $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot rollbot handlers integrations sandbox
	$(BIN)/lint-imports

# Figures against baselines measured in the same run; BENCH_ARGS=--quick to try the harness.
bench: $(STAMP) postgres
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache rollbot.db
