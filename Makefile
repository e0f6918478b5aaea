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

# The console's browser tests drive the system Chromium through chromedriver, with fonts for
# Hangul and Devanagari; installed once with apt (root), a no-op when already there.
BROWSER_PACKAGES := chromium chromium-driver fonts-nanum fonts-lohit-deva

.PHONY: install run test lint bench browser
install: $(BIN)/.installed browser

browser:
	@if ! dpkg-query -W -f='$${Status}\n' $(BROWSER_PACKAGES) 2>/dev/null | grep -qv '^install ok installed$$' \
	    && [ "$$(dpkg-query -W -f='$${Status}\n' $(BROWSER_PACKAGES) 2>/dev/null | wc -l)" -eq $(words $(BROWSER_PACKAGES)) ]; then \
	  :; \
	else \
	  echo "installing $(BROWSER_PACKAGES)"; \
	  $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES); \
	fi

run: install
	$(BIN)/matchmaker seed --if-empty
	$(BIN)/matchmaker serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check service embeddings migrations tests bench
