# nnlab: two commands on a fresh machine.
#   make lab    set up .venv and open the course in JupyterLab
#   make test   set up .venv and run every test (unit, notebooks, grading, browser)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888

.PHONY: setup lab test test-unit test-notebooks test-ui bench release clean

setup: $(STAMP)

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

# Python tests first (unit, grading, browser when Chromium is present), then every lesson through nbval.
test: $(STAMP)
	$(BIN)/pytest tests --durations=10
	$(BIN)/pytest notebooks $(NBVAL)

test-unit: $(STAMP)
	$(BIN)/pytest tests --ignore=tests/ui

test-notebooks: $(STAMP)
	$(BIN)/pytest notebooks $(NBVAL)

test-ui: $(STAMP)
	$(BIN)/pytest tests/ui

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

release: $(STAMP)
	$(BIN)/nnlab release

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis autograder/release autograder/autograded \
	       autograder/feedback autograder/gradebook.db
