# Two commands do all set-up: `make run` (install, seed once, serve) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
# Every install goes through constraints.txt, which pins torch to the local CPU build.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

$(BIN)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

.PHONY: install run test lint bench
install: $(BIN)/.installed

run: install
	$(BIN)/matchmaker seed --if-empty
	$(BIN)/matchmaker serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check service embeddings migrations tests bench
