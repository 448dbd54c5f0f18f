# Mesyx developer entry points. `make help` lists them.
#
#   make demo   venv + a demo node in ./demo-home, daemon in the foreground
#   make test   Debian packages + venv + every test
#
# Variables you may override: PYTHON, DEMO_PORT_BASE, PYTEST_ARGS, MESYX_SKIP_DEPS=1.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# What the tests need from Debian: swaks (SMTP client in the integration tests),
# postgresql (the real server the store tests start as `nobody`), tmux (daemon sessions,
# neomutt's screen), isync, neomutt, curl (real IMAP clients in tests/client_real),
# dovecot-sieve (Pigeonhole's sieve-test: tests/sieve_corpus re-records and compares)
# and sieve-connect (a real ManageSieve client, tests/managesieve).
# tests/imaptest builds Dovecot's imaptest with ../shared/tools/imaptest/build.sh, which
# installs its own build dependencies (dovecot-dev, build tools).
DEB_PACKAGES := swaks postgresql tmux isync neomutt curl dovecot-sieve sieve-connect

DEMO_HOME := ./demo-home
DEMO_PASSFILE := demo-home.passphrase
DEMO_PASSPHRASE := demo-passphrase-change-me
DEMO_ACCOUNT := demo@mesyx.test
DEMO_PORT_BASE ?= 20000

.PHONY: help venv deps-debian test test-fast lint demo clean clean-demo distclean

help:
	@echo "make demo        create .venv, initialise $(DEMO_HOME) ($(DEMO_ACCOUNT)), run the daemon on loopback"
	@echo "make test        install Debian packages and Python extras the tests need, run every test"
	@echo "make test-fast   the same without the tests marked slow"
	@echo "make lint        mypy (strict on mesyx/) and ruff"
	@echo "make venv        create .venv and pip install -e '.[test]' (re-run when setup.cfg changes)"
	@echo "make deps-debian apt-get install $(DEB_PACKAGES) if any is missing (needs root)"
	@echo "make clean       remove caches and build output; clean-demo: the demo node; distclean: both and .venv"

# -- Python environment --------------------------------------------------------------

venv: $(STAMP)

# The stamp makes a second `make venv` instant; editing setup.cfg or pyproject.toml
# re-installs. Removing .venv removes the stamp with it.
$(STAMP): setup.cfg pyproject.toml
	@if [ ! -x "$(BIN)/python" ]; then \
	  if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	    echo "error: Mesyx needs Python 3.11 or newer as '$(PYTHON)' (set PYTHON=...)" >&2; exit 1; \
	  fi; \
	  if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo "== installing python3-venv"; \
	      DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv; \
	    else \
	      echo "error: '$(PYTHON) -m venv' is not available: run 'sudo apt-get install python3-venv'" >&2; exit 1; \
	    fi; \
	  fi; \
	  echo "== creating $(VENV)"; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	@echo "== installing mesyx and its test extras into $(VENV)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-input -e '.[test]'
	@touch $(STAMP)

# -- Debian packages -----------------------------------------------------------------

deps-debian:
	@if [ -n "$${MESYX_SKIP_DEPS:-}" ]; then echo "== MESYX_SKIP_DEPS set: not checking Debian packages"; exit 0; fi; \
	if ! command -v dpkg >/dev/null; then \
	  echo "warning: not a Debian system; install these yourself: $(DEB_PACKAGES)" >&2; exit 0; \
	fi; \
	missing=""; \
	for pkg in $(DEB_PACKAGES); do \
	  dpkg -s "$$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "error: Debian packages missing:$$missing" >&2; \
	  echo "       run 'sudo make deps-debian' (or 'sudo apt-get install -y$$missing')," >&2; \
	  echo "       or MESYX_SKIP_DEPS=1 make test to run without them (their tests skip or fail)" >&2; \
	  exit 1; \
	fi; \
	echo "== installing Debian packages:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update; \
	apt-get install -y $$missing

# -- Tests and lint ------------------------------------------------------------------

test: deps-debian venv
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: deps-debian venv
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# Runs both tools and fails if either fails, so one run shows every complaint.
lint: venv
	@status=0; \
	echo "== mypy"; $(BIN)/mypy || status=1; \
	echo "== ruff"; $(BIN)/ruff check mesyx tests || status=1; \
	exit $$status

# -- Demo ----------------------------------------------------------------------------

demo: venv
	@if [ ! -d "$(DEMO_HOME)" ]; then \
	  echo "== initialising a demo node in $(DEMO_HOME)"; \
	  umask 077; printf '%s\n' '$(DEMO_PASSPHRASE)' > $(DEMO_PASSFILE); \
	  if ! $(BIN)/mesyx --home $(DEMO_HOME) init --account $(DEMO_ACCOUNT) \
	      --passphrase-file $(DEMO_PASSFILE) --port-base $(DEMO_PORT_BASE); then \
	    rm -rf "$(DEMO_HOME)"; echo "error: mesyx init failed (see above)" >&2; exit 1; \
	  fi; \
	fi
	@bash scripts/demo-banner.sh "$(DEMO_HOME)" "$(DEMO_PASSFILE)" "$(DEMO_ACCOUNT)" "$(DEMO_PORT_BASE)"
	exec $(BIN)/mesyx --home $(DEMO_HOME) run

# -- Cleaning ------------------------------------------------------------------------

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

clean-demo:
	rm -rf $(DEMO_HOME) $(DEMO_PASSFILE)

distclean: clean clean-demo
	rm -rf $(VENV)
