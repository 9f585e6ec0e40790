# Tarozu: `make help` lists the targets. `make run` and `make test` set themselves up.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: help setup system-deps run serve ui test lint format bench clean

## help: list the targets
help:
	@echo "Tarozu: risk-screening decision support. Targets:"
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -e 's/^## /  make /' -e 's/: /\t/' | expand -t 24

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## setup: create .venv and install Tarozu with its dev tools
setup: $(STAMP)

## system-deps: install Chromium and PostgreSQL from Debian's packages (for the browser and PostgreSQL tests)
system-deps:
	@bash scripts/install-system-deps.sh

## run: generate data, train, register and promote a model, create dev keys, serve on 127.0.0.1:8000
run: export TAROZU_ENVIRONMENT = development
run: setup
	$(BIN)/tarozu train
	$(BIN)/tarozu promote || $(BIN)/tarozu promote --accept-risk "make run: development model on synthetic data, not for field use"
	$(BIN)/python -m serving.dev_keys
	$(BIN)/tarozu serve

## serve: serve the current @champion in development mode (after `make run` or `tarozu train` + `tarozu promote`)
serve: export TAROZU_ENVIRONMENT = development
serve: setup
	$(BIN)/tarozu serve

## ui: open the MLflow UI on the embedded tracking database (http://127.0.0.1:5000)
ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

## lint: ruff (lint and format check) and mypy
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## format: apply ruff's fixes and formatting
format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## test: set up, install system packages, lint, and run every test
test: setup system-deps lint
	$(BIN)/pytest -n 2 --dist loadgroup

## bench: speed, accuracy and load benchmarks, printed as ratios against their named references
bench: setup
	bash scripts/install-system-deps.sh wrk
	$(BIN)/python -m benchmarks

## clean: remove the venv, generated data, runs, databases and caches
clean:
	rm -rf $(VENV) mlruns mlartifacts mlflow.db var reports build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f data/synthetic/*.parquet
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
