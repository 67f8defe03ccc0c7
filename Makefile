# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_VERSION := 2.13.0

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned, so pip never resolves a multi-GB CUDA build for `torch>=2.4`.
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q -e '.[dev,studio]'
	touch $@

.PHONY: demo test install clean
install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/imsynth demo --out demo

# tests, then lint (ruff check + format check) and the import contracts (layers; no torch in the classical layer)
test: $(VENV)/.installed
	$(PY) -m pytest -n 2 --dist loadgroup --durations=15
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) demo .pytest_cache
