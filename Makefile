# nnlab: two commands on a fresh machine.
#   make lab    set up .venv and open the course in JupyterLab
#   make test   set up .venv and run every test (unit, notebooks, grading, browser)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888

.PHONY: setup setup-tests system-tools lab test test-unit test-notebooks test-ui bench release clean

setup: $(STAMP)

# What the tests drive for real: bubblewrap (the grading sandbox) and Debian's Chromium (the
# browser tests). Installed with apt-get when missing, as root or through sudo; where that is
# not possible, make stops with one line naming what to install. NNLAB_SKIP_SANDBOX=1 and
# NNLAB_SKIP_BROWSER=1 opt out of those tests instead (pytest's summary says so).
setup-tests: $(STAMP) system-tools

system-tools:
	@need=""; \
	if [ "$$NNLAB_SKIP_SANDBOX" != 1 ] && ! command -v bwrap >/dev/null 2>&1; then need="$$need bubblewrap"; fi; \
	if [ "$$NNLAB_SKIP_BROWSER" != 1 ] && [ -z "$$NNLAB_CHROMIUM" ] && \
	   ! dpkg -L chromium 2>/dev/null | grep -q 'lib/chromium/chromium$$'; then need="$$need chromium"; fi; \
	[ -z "$$need" ] && exit 0; \
	sudo=none; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then sudo=sudo; fi; \
	if [ "$$sudo" = none ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make: the tests need$$need: install it (Debian/Ubuntu: sudo apt-get install -y$$need), or set NNLAB_SKIP_SANDBOX=1 / NNLAB_SKIP_BROWSER=1" >&2; \
	    exit 1; \
	fi; \
	echo "installing$$need with apt-get"; \
	{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq$$need >/dev/null; } || \
	{ echo "make: could not install$$need with apt-get: install it yourself, or set NNLAB_SKIP_SANDBOX=1 / NNLAB_SKIP_BROWSER=1" >&2; exit 1; }

# Reinstall only when the dependency list changes; a second run is a no-op.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --port=$(PORT) \
	    $(if $(filter 0,$(shell id -u)),--allow-root,) \
	    notebooks/00_start_here/00_start_here.ipynb

NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=120

# Python tests first (unit, grading, browser), then every lesson through nbval.
# -rs lists every skipped test with its reason.
test: setup-tests
	$(BIN)/pytest tests --durations=10 -rs
	$(BIN)/pytest notebooks $(NBVAL)

test-unit: setup-tests
	$(BIN)/pytest tests --ignore=tests/ui -rs

test-notebooks: $(STAMP)
	$(BIN)/pytest notebooks $(NBVAL)

test-ui: setup-tests
	$(BIN)/pytest tests/ui -rs

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# The course hub on this machine, as root: accounts from ROSTER (student_id,name), the nbgrader
# exchange, the proxy (npm, from deploy/proxy/package.json), JupyterHub on 127.0.0.1:HUB_PORT.
ROSTER     ?= deploy/roster.example.csv
INSTRUCTOR ?= teacher
HUB_PORT   ?= 8000
.PHONY: hub
hub: $(STAMP) deploy/proxy/node_modules/.bin/configurable-http-proxy
	$(BIN)/nnlab hub --roster $(ROSTER) --instructor $(INSTRUCTOR) --port $(HUB_PORT)

deploy/proxy/node_modules/.bin/configurable-http-proxy: deploy/proxy/package.json
	npm install --prefix deploy/proxy --no-audit --no-fund
	touch $@

release: $(STAMP)
	$(BIN)/nnlab release

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis autograder/release autograder/autograded \
	       autograder/feedback autograder/gradebook.db
