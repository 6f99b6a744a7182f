# Every target installs what it needs: a fresh clone needs only `make demo` or `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30
# Folder above registry.terraform.io of a filesystem provider mirror; empty = Terraform's normal installation.
TF_PROVIDER_MIRROR ?= $(if $(wildcard /opt/tf-plugins/registry.terraform.io),/opt/tf-plugins,)
export TF_PROVIDER_MIRROR
export CHECKPOINT_DISABLE := 1

.PHONY: install test lint package demo bench mutation diagram clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

install: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## make .venv (package + dev tools) and .venv-checkov

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check lambda_src tests sandbox scripts
	$(VENV)/bin/ruff format --check lambda_src tests sandbox scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy sandbox tests scripts

# Two pytest-xdist workers in two lanes (tests/conftest.py, LANE_APART): `terraform test` and test_uninstall.py
# (which mostly waits for the AWS provider's SQS waiters) beside the rest of the suite, in collection order.
test: install lint ## the whole suite: lint, types, unit, Terraform checks, integration
	CHECKOV_BIN=$(abspath $(CHECKOV_VENV))/bin/checkov $(PY) -m pytest -n 2 --lanes

package: $(VENV)/.installed ## rebuild lambda_dist/ from lambda_src/ (same sources, same bytes)
	$(PY) scripts/build_lambda_zip.py

# The demo needs the package, moto and Terraform, not checkov's 290 MB venv (make test installs that).
demo: $(VENV)/.installed ## the whole flow against a local AWS
	$(PY) -m sandbox.demo $(DEMO_ARGS)

bench: install ## benchmark figures (docs/benchmarks.md)
	$(PY) -m tests.bench

mutation: $(VENV)/.installed ## take out each rail of the engine in a copy and show the unit tests catch it
	$(PY) scripts/mutation.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

diagram: ## docs/architecture.svg from docs/architecture.dot (needs Graphviz)
	dot -Tsvg docs/architecture.dot -o docs/architecture.svg
