# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each installs the system packages it needs (apt-get, as root) and a virtualenv with the package.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
APT_PACKAGES := serf dnsmasq-base dnsutils docker.io debootstrap cloud-init

.PHONY: bench demo test lint typecheck unit integration faults e2e image image-zookeeper dockerd sysdeps venv clean

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

# dockerd runs as root in the background when no engine answers (CI starts from nothing).
dockerd: sysdeps
	@if ! docker info >/dev/null 2>&1; then \
	  echo "starting dockerd"; \
	  nohup dockerd >/var/log/cloudagent-dockerd.log 2>&1 & \
	  for i in $$(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done; \
	  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/cloudagent-dockerd.log" >&2; exit 1; }; \
	fi

# The image, from a local debootstrap base when no registry is reachable.
image: dockerd venv
	$(BIN)/python -m cloudagent.dev.imagebuild

# cloudagent-zookeeper:latest: the agent image plus Debian's ZooKeeper (images/zookeeper).
image-zookeeper: dockerd venv
	$(BIN)/python -m cloudagent.dev.imagebuild --variant zookeeper

demo: sysdeps venv
	$(BIN)/python -m cloudagent.dev.demo

lint: venv
	$(BIN)/ruff check cloudagent tests bench
	$(BIN)/ruff format --check cloudagent tests bench

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

integration: sysdeps venv
	$(BIN)/pytest -q tests/integration

# Real agents under faults (signals, full disks, partitions in network namespaces, Ambari
# misbehaving, load); needs root for mount, chattr, ip netns and iptables. About 10 minutes.
faults: sysdeps venv
	$(BIN)/pytest -q tests/faults

e2e: dockerd venv
	$(BIN)/pytest -q tests/e2e

test: sysdeps dockerd venv lint typecheck
	$(BIN)/pytest -q

# Benchmarks are not tests: `make test` never runs them. BENCH_ARGS="--sizes 10 --trials 2".
# Container start -> served builds cloudagent:bench and starts 10 containers (root and Docker;
# without them it is skipped and the report says why; --containers 0 skips it on purpose).
bench: sysdeps dockerd venv
	$(BIN)/pip install -q '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
