# Everything runs from a local virtualenv (.venv) that these targets create and fill.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DISTRIBUTIONS := -e ".[test]" -e ./checks -e ./connectors/hubspot -e ./connectors/salesforce -e ./connectors/pipedrive

.PHONY: demo test install clean bench

$(STAMP): pyproject.toml checks/pyproject.toml connectors/*/pyproject.toml tests/plugins/*/pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(DISTRIBUTIONS) -e ./tests/plugins/crm_audit_example_plugin
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/crm-audit demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) audits .pytest_cache
