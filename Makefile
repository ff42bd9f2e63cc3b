# Two commands matter: `make demo` and `make test`. Both create .venv from the pinned requirements first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= experiments/digits_quick.yaml
PORT   ?= 5000
LAB_PORT ?= 8888

.PHONY: demo test test-fast test-unit lint ui lab nightly bench clean help venv system-deps strip-notebooks
help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

# Each step says what it installs first; the long one prints a line per package it fetches (pip's
# "Collecting ..."), so a first install (several minutes) is never silent. bash: for pipefail.
SHELL := /bin/bash
$(STAMP): requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0] + " (set PYTHON=python3.11)"'
	@test -x $(BIN)/python || { echo "== creating the virtual environment $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "== 1/4 pip itself, up to date"
	$(BIN)/python -m pip install -q --upgrade pip
	@echo "== 2/4 the $$(grep -c '==' requirements.txt) pinned packages of requirements.txt and what they pull in (constraints.txt): TensorFlow, LiteRT, ONNX Runtime, OpenVINO, MNN, MLflow, JupyterLab, ... (about 4 GB on disk, several minutes the first time; a line per package fetched)"
	set -o pipefail; $(BIN)/python -m pip install --progress-bar off -r requirements.txt -c constraints.txt \
	  | { grep --line-buffered -E '^(Collecting|Installing collected)' | cut -c1-110 || true; }
	@echo "== 3/4 the workbench package itself (editable: your checkout)"
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . || $(BIN)/python -m pip install -q --no-deps -e .
	@echo "== 4/4 the Jupyter kernel 'Python 3 (workbench)' (what the notebooks run on)"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" >/dev/null
	@touch $(STAMP)
	@echo "== $(VENV) ready: $$($(BIN)/python -m pip list 2>/dev/null | tail -n +3 | wc -l) packages installed"

venv: $(STAMP)  ## create .venv from the pinned requirements (first time only)

SYSTEM_PKGS := openssh-server openssh-client chromium postgresql
system-deps:  ## Debian packages some tests use (sshd on loopback, headless Chromium, PostgreSQL for the shared-store test); needs root + apt
	@missing=""; for p in $(SYSTEM_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "note: missing$$missing; the tests that need them skip and say why (install with apt-get as root)"; fi; \
	fi

demo: $(STAMP)  ## run the quick digits experiment on the embedded MLflow store
	@echo "== running $(DEMO) on 2 workers: the baseline is trained once, then each variant is built, measured and logged (the bar names the variants running)"
	$(BIN)/workbench run $(DEMO) --workers 2

# Two pytest-xdist workers, one test file per worker at a time (--dist loadfile): a module's fixtures
# (a JupyterLab server, the fault table's results, a fresh install) are built once, and the tests that
# time processes or start servers (free ports on 127.0.0.1) keep their own file's order.
XDIST := -n 2 --dist loadfile --durations=15

test: $(STAMP) system-deps  ## the whole test suite, slow end-to-end tests included (2 workers)
	$(BIN)/python -m pytest -q $(XDIST)

test-fast: $(STAMP)  ## unit + integration tests, without the slow end-to-end ones (2 workers)
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow"

test-unit: $(STAMP)  ## the unit tier: no TensorFlow, no training, under a minute
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)  ## ruff + mypy on the package
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/mypy

ui: $(STAMP)  ## MLflow UI on the embedded store (127.0.0.1:$(PORT)); prints each experiment's address
	$(BIN)/workbench ui --port $(PORT)

# JupyterLab for the notebooks: loopback only, a fresh token per start (JUPYTER_TOKEN=... to choose one),
# opened on the explorer; the kernel starts in notebooks/ and the notebooks find the project root themselves.
# A notebook saved in a notebooks/ folder is written without outputs (workbench/notebook_files.py): the
# shipped notebooks stay clean in git however often they are run; save a copy elsewhere to keep outputs.
lab: $(STAMP)  ## JupyterLab on 127.0.0.1:$(LAB_PORT) with the explorer open; prints the URL (with its token)
	@echo "JupyterLab on 127.0.0.1 (stop: Ctrl-C twice). Open the http://127.0.0.1:... URL printed below."
	$(BIN)/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
	  --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/explore.ipynb \
	  --LabApp.extension_manager=readonly $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --ContentsManager.pre_save_hook=workbench.notebook_files.strip_on_save

strip-notebooks:  ## clear the outputs of every notebook git tracks (make lab saves notebooks/ without them already)
	$(BIN)/python -m workbench.notebook_files $$(git ls-files '*.ipynb')

nightly: $(STAMP)  ## the nightly sweep, compared with the previous night
	$(BIN)/workbench run experiments/nightly.yaml --workers 2 --since 20h --compare-to previous --no-progress

bench: $(STAMP)  ## profiling benchmarks: LiteRT, and LiteRT vs ONNX Runtime vs OpenVINO (writes benchmarks/results/)
	$(BIN)/python benchmarks/profile_mobilenet.py
	$(BIN)/python benchmarks/compare_runtimes.py

clean:  ## remove caches and the embedded store (keeps .venv)
	rm -rf .workbench mlruns mlartifacts mlflow.db .pytest_cache
