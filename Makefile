# Everything runs from a local virtualenv (.venv) that these targets create and fill.
# Installs are quiet: one line per step, pip's output goes to .venv/install.log (shown
# when a step fails).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOG := $(VENV)/install.log
# The tool, its standard checks, the connectors and the integration probes: what `make demo`
# and users need.
STAMP := $(VENV)/.installed
# Plus the test-only example plugin (tests/plugins): installed for `make test` only, so
# its check never shows up in a user's reports.
TEST_STAMP := $(VENV)/.installed-test
EXAMPLE_PLUGIN := crm-audit-example-plugin

DISTRIBUTIONS := -e ".[test]" -e ./checks -e ./connectors/hubspot -e ./connectors/salesforce -e ./connectors/pipedrive \
	-e ./probes/mailchimp -e ./probes/xero
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet

# $(call step,what it does,command): one line, the command's output to the log.
define step
	@echo "$(1)"
	@$(2) >>$(LOG) 2>&1 || { tail -n 40 $(LOG); echo "error: $(1) failed (the whole log: $(LOG))"; exit 1; }
endef

.PHONY: demo test install clean bench

$(STAMP): pyproject.toml checks/pyproject.toml connectors/*/pyproject.toml probes/*/pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 2; }
	@echo "creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV) && : > $(LOG)
	$(call step,updating pip,$(PIP) install --upgrade pip)
	$(call step,installing crm-audit with its checks plus the connectors and probes (about a minute the first time),$(PIP) install $(DISTRIBUTIONS))
	@rm -f $(TEST_STAMP)
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP) tests/plugins/*/pyproject.toml
	$(call step,installing the test-only example plugin,$(PIP) install -e ./tests/plugins/crm_audit_example_plugin)
	@touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	@if [ -f $(TEST_STAMP) ]; then \
		echo "removing the test-only example plugin (make test installs it again)"; \
		$(PIP) uninstall --yes $(EXAMPLE_PLUGIN) >>$(LOG) 2>&1; rm -f $(TEST_STAMP); \
	fi
	@$(BIN)/crm-audit demo

# Two workers (the suite waits on sandboxes' simulated 429s and timeouts as much as it
# computes); each test file runs whole on one worker, so a module's sandbox starts once.
# `make test PYTEST_WORKERS=0` runs everything in one process.
PYTEST_WORKERS ?= 2

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) audits .pytest_cache
