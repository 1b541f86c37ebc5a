# The two commands a newcomer needs: `make run` starts the product, `make test` runs every test.
# Both create and reuse the virtual environment in .venv themselves.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench lock clean install

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

## Start the embedded AWS, the local data plane and the Dagster UI (Ctrl-C stops everything).
## Other ports: `make run UI_PORT=3310 EMULATOR_PORT=4599` (each passed on only when set).
run: $(STAMP)
	$(BIN)/sales-cdc up $(if $(UI_PORT),--ui-port $(UI_PORT)) $(if $(EMULATOR_PORT),--emulator-port $(EMULATOR_PORT))

## Run the whole test suite (unit, integration against the emulator, end-to-end).
test: $(STAMP)
	@scripts/ensure-chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	@failed=""; for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "below target:$$failed"; exit 1; fi

lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^sales-cdc' > requirements.lock.new
	@{ echo '# Exact versions of every package the project installs (pip constraints). Regenerate with `make lock`.'; cat requirements.lock.new; } > requirements.lock && rm requirements.lock.new

clean:
	rm -rf $(VENV) .sales-cdc .pytest_cache .ruff_cache
