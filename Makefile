# cepkit: two commands on a fresh machine.
#   make run    create .venv, install, start the server on the embedded SQLite store
#   make test   create/update .venv, then ruff, mypy and the whole pytest suite (incl. doctests)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cepkit-installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
DB     ?= cepkit.db
PACK   ?= data/rules/pack

.PHONY: install run test lint typecheck pytest chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv (installed into the venv by pip) resolves in seconds; plain pip is the fallback.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv || true
	@if $(BIN)/python -m uv --version >/dev/null 2>&1; then \
		echo "installing with uv"; \
		$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -r requirements.lock -e ".[dev]"; \
	else \
		echo "uv unavailable: installing with pip (slower)"; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock -e ".[dev]"; \
	fi
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/cepkit serve --host $(HOST) --port $(PORT) --db $(DB) --pack $(PACK)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest

# the dashboard tests drive a real headless Chromium (Debian's package); they fail without it
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			echo "installing chromium (apt-get)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "chromium is missing and this is not root: run 'sudo apt-get install -y chromium'"; \
			exit 1; \
		fi; \
	fi
	@# the builder's labels are Korean (the guide's); without a CJK font they show as boxes
	@if [ ! -d /usr/share/fonts/truetype/nanum ] && [ "$$(id -u)" = "0" ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null \
			|| echo "fonts-nanum not installed: Korean labels show as boxes in screenshots"; \
	fi

test: lint typecheck chromium pytest

bench: install
	$(BIN)/python benchmarks/bench_conditions.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
