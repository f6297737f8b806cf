# `make demo` and `make test` each create .venv and install what they need when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml tools/install_detectron2.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python tools/install_detectron2.py
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

demo: $(STAMP)
	$(BIN)/python -m evalsuite.demo

clean:
	rm -rf $(VENV) .pytest_cache

# The committed leaderboard and report, regenerated from the committed result rows (results/README.md).
RESULTS_BASELINE ?= random-cifar_resnet18
.PHONY: results
results: $(STAMP)
	$(BIN)/python -m evalsuite leaderboard --results results/measured --baseline $(RESULTS_BASELINE) --format md -o results/leaderboard.md
	$(BIN)/python -m evalsuite report --results results/measured --baseline $(RESULTS_BASELINE) --published -o results/report.html
	$(BIN)/python -m evalsuite report --results results/measured --baseline $(RESULTS_BASELINE) --published --format md -o results/report.md

# The measured supervised row: torchvision's ImageNet ResNets (sha256-checked) through the transfer
# suite. Needs the network; Stanford Cars must be placed under $(DATA) by hand (README, transfer datasets).
DATA ?= data
BASELINES_DIR ?= work_dirs/baselines
BASELINES_SUITE ?= tasks/transfer.py
.PHONY: baselines
baselines: $(STAMP)
	$(BIN)/python -m evalsuite baselines --download -o $(BASELINES_DIR)
	for ckpt in $(BASELINES_DIR)/*.pth; do \
		$(BIN)/python -m evalsuite eval $$ckpt --suite $(BASELINES_SUITE) --data-root $(DATA) --download \
			--results results/measured --skip-existing || exit $$?; \
	done
