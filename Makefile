# Two commands for a new machine: `make demo` and `make test`. Each sets up what it needs
# (a .venv here, Python packages, Debian packages, datasets and weights in ~/.cache/pixelcnn)
# and skips what is already done.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := chromium dataset-fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system data native demo test bench clean

# Python packages, and this package itself in editable mode (the `pixelcnn` command; tests and
# benches import it without path edits): reinstalled only when one of these files changes.
$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

# Debian packages: a headless browser for the UI tests, Fashion-MNIST for offline training.
system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q $$missing >/dev/null; \
	fi

# Datasets and face-encoder weights, cached under $${PIXELCNN_CACHE:-~/.cache/pixelcnn}.
data: $(STAMP) system
	$(VENV)/bin/pixelcnn fetch

# The sampler's native pixel step, compiled once for this CPU and cached with the data (about 40 s;
# where it cannot be, the Python step draws and this says so).
native: $(STAMP)
	$(PY) -c "from pixelcnn.sampling import native; native.main()"

setup: $(STAMP) system data native

demo: setup
	$(PY) app.py

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) bench/sampling.py

clean:
	rm -rf $(VENV)
