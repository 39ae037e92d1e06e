# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each installs the system packages it needs (apt-get, as root) and a virtualenv with the package.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
APT_PACKAGES := serf dnsmasq-base dnsutils

.PHONY: demo test lint typecheck unit integration sysdeps venv clean

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then echo "need root to install:$$missing" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	fi

$(BIN)/cloudagent: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/cloudagent

demo: sysdeps venv
	$(BIN)/python -m cloudagent.demo

lint: venv
	$(BIN)/ruff check cloudagent tests
	$(BIN)/ruff format --check cloudagent tests

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

integration: sysdeps venv
	$(BIN)/pytest -q tests/integration

test: sysdeps venv lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
