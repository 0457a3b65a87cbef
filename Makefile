# The two commands of the README: `make repro` (set up, then run the pipeline) and
# `make test` (set up, then run every test, the slow end-to-end ones included).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# dvc runs each stage's `python -m pipeline...` from PATH: it must be the virtual environment's.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup cluster repro test test-fast params deps clean-venv

setup: $(VENV)/.installed

# torch first, from the pinned CPU wheel; then the project with its exact pins.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# Optional scale-out extra (Ray, submitit, PostgreSQL driver): `make cluster`. The Ray plugin goes
# in without its dependencies (pyproject.toml, `cluster`, says why; `pip check` names that one pin).
cluster: $(VENV)/.cluster

$(VENV)/.cluster: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev,cluster]"
	$(BIN)/pip install --quiet --no-deps hydra-ray-launcher==1.2.2
	touch $@

repro: setup
	$(BIN)/dvc repro

# pytest exits 5 when a selection collects nothing; that is not a failure of the suite. The fast
# tests run on two processes (pyproject.toml's addopts), every test on three: the team server's
# tests and the modules on the tiny repro are long chains that a third process runs beside the rest
# (README, "Tests"). Add `-n 0` to a pytest command for one process.
test: setup
	$(BIN)/pytest -m "slow or not slow" -n 3; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

test-fast: setup
	$(BIN)/pytest

# Re-compose params.yaml from conf/ exactly as `dvc exp run` does (DVC's own compose_and_dump).
params: setup
	$(BIN)/python -m pipeline.core.compose

# Rewrite each stage's code deps in dvc.yaml from the imports it runs (pipeline/core/stage_deps.py;
# tests/repo/test_dvc_deps.py checks dvc.yaml against the same walk).
deps: setup
	$(BIN)/python -m pipeline.core.stage_deps

clean-venv:
	rm -rf $(VENV)
