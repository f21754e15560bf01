# Seeing and Saying: the two commands a reader needs are `make book` and `make test`.
# Everything else here is for authors and CI. `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp
BUILD := _build
HTML := $(BUILD)/html
BOOK_LOG := $(BUILD)/book-build.log
# Notebooks in their numbered order (00, 01, ...): pytest runs them in the order given.
NOTEBOOKS = $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST_ARGS ?=
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=600
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# Headless runs (tests, book, bench): widgets print one line and the static figures stand in (helpers/widgets.py).
export SEEING_SAYING_STATIC := 1
# OpenMP threads that sleep instead of spinning while they wait: on a busy 2-core machine spinning threads
# made PyTorch steps 2x (and in one measurement 25x) slower; uncontended it costs little (book/performance.md).
OMP_WAIT_POLICY ?= PASSIVE
export OMP_WAIT_POLICY

.PHONY: help venv data lab test lint sync test-real book bench seeds test-book test-live chromium clean environment.yml

help:
	@echo "make book       set up .venv, build the data, build the HTML book in $(HTML) (fails on any error)"
	@echo "make test       set up .venv, build the data, run the unit/structure tests and every notebook"
	@echo "make lab        set up .venv and open the notebooks in JupyterLab, widgets live (LAB_ARGS=... to add options)"
	@echo "make lint       ruff over helpers/, tests/, scripts/, benchmarks/ and the notebooks' py:percent twins"
	@echo "make sync       bring each notebook and its py:percent twin together after an edit (jupytext --sync)"
	@echo "make test-real  run every chapter on the real datasets' layouts in ../shared/realdata (EPOCHS=1)"
	@echo "make test-book  build the book (reusing cached executions) and check it in headless Chromium"
	@echo "make test-live  run chapters 00, 01, 02 and 04 in JupyterLab in headless Chromium and use every widget"
	@echo "make bench      execute every notebook cold and warm; write the times into book/performance.md"
	@echo "make seeds      run chapters 01-04 again with SEED = 1 and 2; write the metrics' spread into book/performance.md"
	@echo "make venv       create/update .venv from requirements.txt (re-runs when requirements.txt changes)"
	@echo "make data       build the embedded dataset and features (python -m helpers build)"
	@echo "make environment.yml  rewrite environment.yml from requirements.txt (after adding a pin)"
	@echo "make clean      remove .venv, _build, .cache and results"

# --- environment -------------------------------------------------------------------------------------
venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; the book needs Python 3.11 (Debian: apt-get install python3.11 python3.11-venv)"; exit 1; }; \
	  if ! $(PYTHON) -m venv $(VENV); then \
	    rm -rf $(VENV); \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo "make: installing python3.11-venv"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11-venv; \
	      $(PYTHON) -m venv $(VENV); \
	    else echo "make: '$(PYTHON) -m venv' failed (Debian: apt-get install python3.11-venv)"; exit 1; fi; \
	  fi; \
	fi
	$(PY) -m pip install --progress-bar off -r requirements.txt
	$(PY) -m pip install --progress-bar off --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@touch $@

# --- data --------------------------------------------------------------------------------------------
data: venv
	$(PY) -m helpers build

# --- tests: unit + structure tests, then nbval over every notebook, cell by cell ------------------------
# tests/nbval_book.py (a small plugin on top of nbval) stores each notebook run that passed in the book's
# jupyter-cache, so a `make book` after `make test` executes nothing again (see book/performance.md).
test: venv data lint
	$(PY) -m pytest tests -p tests.nbval_book $(NBVAL) $(NOTEBOOKS) $(PYTEST_ARGS)

# --- notebooks as text, and the linter -------------------------------------------------------------------
# Each notebook has a py:percent twin (pyproject.toml [tool.jupytext]); after editing either side, `make sync`:
# jupytext brings each pair together (the newer side wins), ruff formats the twins (88 characters, so no code
# cell scrolls sideways in the HTML book), and jupytext carries that formatting back into the notebooks.
sync: venv
	$(PY) -m jupytext --sync $(wildcard notebooks/*.ipynb)
	$(PY) -m ruff format notebooks
	$(PY) -m jupytext --sync $(wildcard notebooks/*.ipynb)

# ruff over the library, the tests, the scripts and the notebooks' twins (settings in pyproject.toml); the
# formatter over all of them (line lengths: 120 in pyproject.toml, 88 for the notebooks in notebooks/ruff.toml).
lint: venv
	$(PY) -m ruff check helpers tests scripts benchmarks notebooks
	$(PY) -m ruff format --check helpers tests scripts benchmarks notebooks

# --- every chapter on samples of the real datasets, in their on-disk layouts (issue "real data") ---------
# papermill runs each pair (chapter x dataset layout) with EPOCHS=1 and DATA_DIR=../shared/realdata/...;
# the times and headline metrics go into book/real_runs.json and the table of book/real_data_and_gpus.md.
REALDATA ?= ../shared/realdata
test-real: venv data
	$(PY) scripts/run_real.py --root $(REALDATA) --write

# --- the HTML book -----------------------------------------------------------------------------------
# Jupyter Book 1 can exit 0 when a notebook fails to execute: the log and the execution reports are
# checked as well, and `build succeeded` must be there (-W turns every warning into a failure).
book: venv data
	@mkdir -p $(BUILD)
	@rm -rf $(HTML)/reports
	@# jupyter-cache re-runs a notebook only when its code cells change: after a change to helpers/ or the
	@# pins, empty it and Sphinx's saved state, so no page keeps outputs of the older code (tests/book_cache.py).
	@$(PY) -m tests.book_cache $(BUILD)/.jupyter_cache $(BUILD)/.doctrees
	@# sphinxcontrib-bibtex can crash an incremental build after a key in references.bib changes: re-read
	@# every page then (cheap: executed notebooks come from the cache).
	@# Likewise after `make test` stored new notebook runs in the cache: Sphinx would keep the pages of
	@# notebooks whose source did not change, with their old outputs.
	@if [ -f $(BUILD)/.doctrees/environment.pickle ] && { [ references.bib -nt $(BUILD)/.doctrees/environment.pickle ] || \
	  [ $(BUILD)/.jupyter_cache/global.db -nt $(BUILD)/.doctrees/environment.pickle ]; }; then \
	  rm -rf $(BUILD)/.doctrees; fi
	@status=0; \
	$(VENV)/bin/jupyter-book build . -W -n --keep-going 2>&1 | tee $(BOOK_LOG) || status=$$?; \
	reports=$$(find $(HTML)/reports -name '*.err.log' 2>/dev/null || true); \
	if [ -n "$$reports" ] || grep -q "Executing notebook failed" $(BOOK_LOG); then \
	  echo "make book: FAILED: a notebook did not execute; tracebacks above and in:"; echo "$$reports"; exit 1; fi; \
	if [ $$status -ne 0 ] || ! grep -q "build succeeded" $(BOOK_LOG); then \
	  echo "make book: FAILED (exit status $$status): Sphinx warnings or errors, see $(BOOK_LOG)"; exit 1; fi; \
	test -f $(HTML)/index.html; \
	echo "make book: $(HTML)/index.html"

# --- the book in a real browser (issue 11) -----------------------------------------------------------
test-book: book chromium
	$(PY) -m pytest tests/book -p no:cacheprovider $(PYTEST_ARGS)

# Debian's chromium and chromedriver, for the two browser tests (installed when missing, if root or sudo).
chromium:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi; \
	  if [ "$$sudo" != none ] && command -v apt-get >/dev/null; then \
	    echo "make: installing Debian's chromium and chromium-driver"; \
	    $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "make: needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)"; exit 1; fi; \
	fi

# --- JupyterLab: the student's way in (issue 18) -------------------------------------------------------
# Widgets are live in Lab: the headless switch exported above (SEEING_SAYING_STATIC) must not reach the server
# or its kernels. Chapter 00 builds the dataset on first use, with progress bars, if `make data` has not.
LAB_ARGS ?=
lab: venv
	@echo "make lab: JupyterLab on notebooks/; it prints the address to open (with its token); Ctrl-C twice stops it"
	env -u SEEING_SAYING_STATIC $(VENV)/bin/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

# The notebooks live: chapters 00, 01, 02 and 04 (small parameters) run in JupyterLab in headless Chromium, and
# every widget is used as a student would (tests/live/test_lab.py).
test-live: venv data chromium
	$(PY) -m pytest tests/live -p no:cacheprovider $(PYTEST_ARGS)

# --- benchmark: every notebook cold (empty cache) and warm --------------------------------------------
bench: venv
	$(PY) scripts/bench.py --write book/performance.md

# --- the same chapters with other seeds: how far the seed alone moves each metric (about 30 min) ---------
seeds: venv data
	$(PY) scripts/seed_spread.py --seeds 1 2 --write book/performance.md

# environment.yml mirrors requirements.txt (tests/test_env.py checks): regenerate it after changing a pin.
environment.yml:
	@python3 -c 'import sys; pins = [l.split("#")[0].strip() for l in open("requirements.txt") if l.split("#")[0].strip()]; \
	head = open("environment.yml").read().split("  - pip:")[0]; \
	open("environment.yml", "w").write(head + "  - pip:\n" + "".join(f"      - {p}\n" for p in pins))'
	@echo "environment.yml: $$(grep -c '^      - ' environment.yml) pins"

clean:
	rm -rf $(VENV) $(BUILD) .cache results .pytest_cache *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
