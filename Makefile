# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and installs
# what it needs; torch is pinned to 2.13.0 (a CPU build) and installed first so nothing pulls
# an unpinned CUDA build.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
TORCH  := torch==2.13.0

.PHONY: demo test test-quick lint lab bench wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# An editable install leaves the package's bytecode to be written on first import, which
# PYTHONDONTWRITEBYTECODE=1 forbids: every process (loader workers, their fork server) would then
# compile deeplake_nb from source (~0.25 s of CPU). Compile it once (the dev install builds on
# this one), as pip does for a wheel.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[torch,notebook]"
	$(BIN)/python -m compileall -q deeplake_nb
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-base
	$(PIP) install --quiet $(TORCH) -e ".[torch,notebook,s3,dev]"
	touch $@

demo: $(VENV)/.installed-base
	$(BIN)/python -m deeplake_nb.demo --n 1000 --out demo_data

# Browser tests (tests/browser) need the system Chromium and Python Playwright; never `playwright install`.
# Chromium is apt-installed when missing (CI: fresh Debian, root); elsewhere those tests skip with a reason.
CHROMIUM := /usr/bin/chromium

$(VENV)/.installed-browser: $(VENV)/.installed-dev
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	      || echo "note: apt-get could not install chromium; browser tests will skip"; \
	  else echo "note: $(CHROMIUM) is missing and cannot be apt-installed here; browser tests will skip"; fi; \
	fi
	$(PIP) install --quiet playwright
	@if [ -x $(CHROMIUM) ]; then touch $@; fi

# Lint and type check of the package ([tool.ruff], [tool.mypy] in pyproject.toml); `make test` runs it first.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check deeplake_nb
	$(BIN)/mypy

test: $(VENV)/.installed-dev $(VENV)/.installed-browser lint
	$(BIN)/python -m pytest -q -n 2 tests
	$(BIN)/python -m pytest -q --nbval-lax notebooks

test-quick: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -x -n 2 tests

lab: $(VENV)/.installed-base
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: $(VENV)/.installed-base
	$(BIN)/python benchmarks/bench_ingest_read.py --n 5000

wheel: $(VENV)/.installed-dev
	$(BIN)/python -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) demo_data dist build .pytest_cache
