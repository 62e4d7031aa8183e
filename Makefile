# The two entry points a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[cpu,test]"
	touch $(STAMP)

install: $(STAMP)

# Three worker processes on 2 cores: most of a test's time is single-threaded tracing or waiting on a
# subprocess, so a third keeps both cores busy; work stealing evens out the long tests at the end.
TEST_WORKERS ?= 3

test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=15

demo: install
	$(BIN)/tfgan-translate demo

clean:
	rm -rf $(VENV) build *.egg-info
