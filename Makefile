# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_FOLDER := resources/demo
DEMO_MODEL := resources/models/demo_chess_mobilenet_v2.safetensors

.PHONY: run test clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The app edits the folder it opens: it opens a copy of the demo (made once), never the tracked files.
run: $(STAMP)
	test -d .demo || cp -r $(DEMO_FOLDER) .demo
	$(BIN)/retina-gui .demo --model $(DEMO_MODEL)

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info .demo
