# cyclecorr: common commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python
CYCLECORR_DATA ?= $(abspath ../shared/data)
export CYCLECORR_DATA

.DEFAULT_GOAL := help
.PHONY: help install train test lint format evaluate baselines benchmark

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

install: ## install the pinned torch stack, then the package with dev tools (editable)
	$(PYTHON) -m pip install torch==2.14.1 torchvision==0.29.1
	$(PYTHON) -m pip install -e ".[dev]"

train: ## train the default experiment (generated video, 400 steps, ~30 min on 2 CPU cores)
	$(PYTHON) -m cyclecorr.train

evaluate: ## DAVIS J&F of a checkpoint on davis2017-mini: make evaluate CKPT=path/to/last.ckpt
	$(PYTHON) -m cyclecorr.evaluate eval=davis encoder=checkpoint ckpt_path=$(CKPT) $(ARGS)

baselines: ## baselines table on davis2017-mini, both protocols [CKPT=...] [ARGS="device=cuda"]
	$(PYTHON) -m cyclecorr.evaluate eval=davis baselines=true \
		$(if $(CKPT),ckpt_path=$(CKPT)) $(ARGS)

benchmark: ## label-propagation speed and peak memory, crw preset, 480p [ARGS="--device cuda"]
	$(PYTHON) -m cyclecorr.benchmark propagation --protocol crw \
		--davis-root $(CYCLECORR_DATA)/davis2017-mini $(ARGS)

test: ## run the default test suite (data tests read CYCLECORR_DATA, skip when it is absent)
	$(PYTHON) -m pytest -q

lint: ## ruff check, ruff format --check, mypy on src/, the import contract (import-linter)
	ruff check src tests
	ruff format --check src tests
	mypy src
	lint-imports

format: ## apply ruff's fixes and formatting
	ruff check --fix src tests
	ruff format src tests
