# Everything a fresh clone needs: `make test` and `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/mypy poolimport
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check poolimport tests benchmarks
	$(BIN)/mypy poolimport

demo: $(STAMP)
	$(BIN)/poolimport demo

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_read.py
	$(BIN)/python benchmarks/bench_queue.py

screenshots: $(STAMP)
	$(BIN)/python screenshots/make_screenshots.py

# Mutation testing of core's rule modules against the fast tests, from scratch, two workers; prints the
# score and fails below 85% or on a survivor that tests/mutation/equivalent.md doesn't explain.
.PHONY: mutate
mutate: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python tests/mutation/score.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
