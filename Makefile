# Quick start: `make run` (the pipeline on the embedded default) and `make test` (the tests).
# Each target does its own set-up: a .venv pinned by requirements/constraints.txt.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Offline-safe: no telemetry, Prefect and DVC state kept inside the project.
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_LOGGING_EXTRA_LOGGERS := mer
export DVC_SITE_CACHE_DIR := $(CURDIR)/.dvc/site-cache
export TMPDIR := $(CURDIR)/.tmp
export MPLBACKEND := Agg
# numba's compiled TV-L1 kernels (mer/flow/_fused.py), kept across runs inside the project
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run experiments dev robustness test setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	@mkdir -p $(TMPDIR) $(PREFECT_HOME)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[test]"
	$(BIN)/python -m pip install --quiet --no-deps face-recognition==1.3.0
	$(BIN)/python -c "from mer.flow import _fused; _fused.warm_up()"  # compile once (about a minute)
	@touch $(STAMP)

# The main job: every stage up to the HTML report with the default models (params.yaml `models`),
# each compared with the named baseline (reports/comparisons.md).
run: $(STAMP)
	$(BIN)/mer run

# Every default model and ablation with experiments.seeds, the paired comparisons
# (reports/experiments/comparisons.md) and the robustness table, in the same LOSO folds.
experiments: $(STAMP)
	$(BIN)/mer run --target report --target compare --target compare_experiments \
		--target evaluate_robustness

# The development project (dev/, synth.seed 1): every default model and ablation with
# experiments.seeds on another corpus. Hyper-parameters are chosen on these numbers only.
dev: $(STAMP)
	$(BIN)/mer dev --out dev --seed 1
	$(BIN)/mer run --root dev --target compare --target compare_experiments

# The robustness table (params.yaml `robustness`): each default model under label noise and few shots.
robustness: $(STAMP)
	$(BIN)/mer run --target report --target evaluate_robustness

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .prefect .tmp .cache
