# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and installs
# what it needs; torch is pinned to 2.13.0 (a CPU build) and installed first so nothing pulls
# an unpinned CUDA build.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
TORCH  := torch==2.13.0

.PHONY: demo test test-quick lab bench wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[torch,notebook]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-base
	$(PIP) install --quiet $(TORCH) -e ".[torch,notebook,s3,dev]"
	touch $@

demo: $(VENV)/.installed-base
	$(BIN)/python -m deeplake_nb.demo --n 1000 --out demo_data

test: $(VENV)/.installed-dev
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
