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

.PHONY: demo test install clean codec
install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/imsynth demo --out demo

# tests, then lint (ruff check + format check) and the import contracts (layers; no torch in the classical layer)
test: $(VENV)/.installed
	$(PY) -m pytest -n 2 --dist loadgroup --durations=15
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

# the codec that ships in the package (docs/benchmarks.md, "The shipped codec"): train on the photographs of
# Debian's wallpaper packages (apt-get install lomiri-wallpapers mate-backgrounds plasma-workspace-wallpapers),
# then store it in float16 as src/imsynth/apps/weights/codec (CODEC_VERSION goes into every stream it writes)
CODEC_RUN ?= runs/codec-photo
CODEC_MINUTES ?= 100
CODEC_VERSION ?= 1
codec: $(VENV)/.installed
	test -f $(CODEC_RUN)/model.safetensors || OMP_NUM_THREADS=1 $(VENV)/bin/imsynth train hyperprior --data photos \
	  --image-size 128 --out $(CODEC_RUN) --minutes $(CODEC_MINUTES) --set width=96 --set latent_channels=128 \
	  --set train.batch_size=8 --set train.lr=5e-4
	$(PY) -c "from imsynth.apps.compress import ship_codec; print(ship_codec('$(CODEC_RUN)', version=$(CODEC_VERSION)))"

clean:
	rm -rf $(VENV) demo .pytest_cache
