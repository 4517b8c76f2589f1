# Every target bootstraps .venv itself: `make train` and `make test` work from a fresh clone.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= python3
ARGS ?=
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_DATASETS_CACHE := $(CURDIR)/experiments/cache
export MLFLOW_DISABLE_TELEMETRY := true
export TOKENIZERS_PARALLELISM := false

.DEFAULT_GOAL := help
.PHONY: help install validate-data check-data train predict evaluate compare bench ui test lint clean
.PHONY: sweep leaderboard promote cv
.PHONY: server serve
.PHONY: report label-queue import-labels browser

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies

validate-data: $(STAMP) ## Check every labeled file (schema, taxonomy, duplicates, counts)
	$(BIN)/topicstance-validate-data

check-data: $(STAMP)  # the same checks before a training job (of the job's labels and data choices)
	@$(BIN)/topicstance-validate-data quiet=true $(filter labels=% data=%,$(ARGS))

train: check-data ## Train (default model) and log to MLflow; overrides: ARGS="model=tfidf_linear model.C=4"
	$(BIN)/topicstance-train $(ARGS)

predict: $(STAMP) ## Classify raw pages: INPUT=<file or folder> OUTPUT=<folder> [MODEL=<uri>]
	@[ -n "$(INPUT)" ] && [ -n "$(OUTPUT)" ] || { echo "usage: make predict INPUT=<file or folder> OUTPUT=<folder>"; exit 2; }
	$(BIN)/topicstance-predict 'input="$(INPUT)"' 'output="$(OUTPUT)"' $(if $(MODEL),'model_uri="$(MODEL)"') $(ARGS)

evaluate: $(STAMP) ## Score the champion (or MODEL=<uri>) on DATA=<labeled jsonl>
	@[ -n "$(DATA)" ] || { echo "usage: make evaluate DATA=<labeled jsonl> [MODEL=<uri>]"; exit 2; }
	$(BIN)/topicstance-evaluate 'data_file="$(DATA)"' $(if $(MODEL),'model_uri="$(MODEL)"') $(ARGS)

compare: check-data ## The compare_models sweep: every family and the ablation rows without the seeds, under one parent run; prints the tables
	$(BIN)/topicstance-train +experiment=compare_models $(ARGS)

cv: check-data ## Outlet-grouped cross-validation of a configuration over the coverage training part (folds x `make train`): ARGS="model=tfidf_linear"
	$(BIN)/topicstance-cv $(ARGS)

sweep: check-data ## A Hydra multirun under one MLflow parent run: ARGS="+experiment=tfidf_grid" or ARGS="--multirun model.C=1,4"
	@[ -n "$(ARGS)" ] || { echo 'usage: make sweep ARGS="+experiment=compare_models" (or tfidf_grid, or --multirun <key>=<a>,<b>)'; exit 2; }
	$(BIN)/topicstance-train $(ARGS)

leaderboard: $(STAMP) ## Training runs ranked by METRIC (default dev/mean_macro_f1) [SWEEP=<parent run id>|latest] [FORMAT=csv]
	@$(BIN)/topicstance-leaderboard $(if $(METRIC),'metric="$(METRIC)"') $(if $(SWEEP),'sweep="$(SWEEP)"') $(if $(FORMAT),'format=$(FORMAT)') $(ARGS)

promote: $(STAMP) ## Move alias champion: RUN=<training run id> or VERSION=<n> [REASON="..."] [BY=<name>]
	@[ -n "$(RUN)$(VERSION)" ] || { echo 'usage: make promote RUN=<training run id> | VERSION=<n> [REASON="why"]'; exit 2; }
	$(BIN)/topicstance-promote $(if $(RUN),'run="$(RUN)"') $(if $(VERSION),'version=$(VERSION)') $(if $(REASON),'reason="$(REASON)"') $(if $(BY),'by="$(BY)"') $(ARGS)

# `make bench ISA=avx2`: every kernel library held to AVX2 (fbgemm, oneDNN, MKL, ATen, numpy,
# OpenBLAS) and `precision: auto` shown no later flag: an AVX2-only CPU's choices and kernels,
# on this machine's cores, clock and caches.
AVX2_ONLY := TOPICSTANCE_CPU_ISA=avx2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 \
	MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell \
	NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"

bench: $(STAMP) ## Speed, memory, scale of every model and the whole job vs the naive baseline and the CPU's roofline -> benchmarks/results/, BENCHMARKS.md; QUICK=1: a couple of minutes; MODEL=<fine-tuned uri> to skip training one; ISA=avx2: as an AVX2-only CPU runs
	@case "$(ISA)" in ""|avx2) ;; *) echo "make bench: ISA=$(ISA): the only limit known is avx2"; exit 2;; esac
	$(if $(ISA),$(AVX2_ONLY)) $(BIN)/python -m benchmarks $(if $(QUICK),budget=quick) $(if $(MODEL),'finetune.model_uri="$(MODEL)"') $(ARGS)

# MLflow 3.17's servers import a Starlette module Starlette now marks deprecated: four warnings
# at every start that are not the user's to act on.
ui server: export PYTHONWARNINGS := ignore:starlette.middleware.wsgi is deprecated
ui: $(STAMP) ## MLflow UI on the embedded store: http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/experiments/mlflow.db --host 127.0.0.1 --port 5000

# ---- beyond one machine: a shared tracking server, REST serving ---------------------------------
server: PORT ?= 5001
server: HOST ?= 127.0.0.1
server: LOOPBACK = $(filter 127.0.0.1 localhost,$(HOST))
# Off loopback, MLflow answers only requests addressed to the names it is told (its guard against
# DNS rebinding; by default localhost and private IPs): this machine's names and IPv4 addresses,
# and the private ranges. ALLOWED_HOSTS='mlflow.example.org' (or '*') to set them yourself.
server: TEAM_HOSTS = $(shell for h in localhost 127.0.0.1 $$(hostname) $$(hostname -f) $$(hostname -I | tr ' ' '\n' | grep -v :); do printf '%s,%s:*,' $$h $$h; done)10.*,192.168.*,172.*
server: ALLOWED_HOSTS ?= $(if $(LOOPBACK),,$(TEAM_HOSTS))
server: ADDRESS = $(if $(LOOPBACK),$(HOST),$(shell hostname -f))
server: $(STAMP) ## Shared MLflow tracking server (sqlite + served artifacts under experiments/server/); PORT=5001 HOST=127.0.0.1 (0.0.0.0: the team; ALLOWED_HOSTS=names clients use)
	@mkdir -p experiments/server/artifacts
	@echo "MLflow tracking server; on each client: export MLFLOW_TRACKING_URI=http://$(ADDRESS):$(PORT)"
	$(BIN)/mlflow server --backend-store-uri sqlite:///$(CURDIR)/experiments/server/mlflow.db \
		--artifacts-destination $(CURDIR)/experiments/server/artifacts --serve-artifacts \
		--host $(HOST) --port $(PORT) $(if $(ALLOWED_HOSTS),--allowed-hosts '$(ALLOWED_HOSTS)')

serve: PORT ?= 5002
serve: MODEL ?= models:/topicstance@champion
serve: $(STAMP) ## REST serving of the champion (or MODEL=<uri>) on 127.0.0.1:PORT (5002); POST /invocations
	PATH="$(CURDIR)/$(BIN):$$PATH" \
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/experiments/mlflow.db} \
		$(BIN)/topicstance-serve --model '$(MODEL)' --port $(PORT)

test: $(STAMP) browser ## Run the test suite
	$(BIN)/pytest

# ---- what analysts see: the report, the labeling loop ----------------------------------------
report: $(STAMP) ## (Re)write OUTPUT/report.html from a prediction output: OUTPUT=<folder>
	@[ -n "$(OUTPUT)" ] || { echo "usage: make report OUTPUT=<folder>"; exit 2; }
	$(BIN)/topicstance-report 'output="$(OUTPUT)"' $(ARGS)

label-queue: $(STAMP) ## The N segments the model is least sure of, to label: N=200 OUTPUT=<folder>
	@[ -n "$(OUTPUT)" ] || { echo "usage: make label-queue N=200 OUTPUT=<folder>"; exit 2; }
	$(BIN)/topicstance-label-queue 'output="$(OUTPUT)"' $(if $(N),n=$(N)) $(ARGS)

import-labels: $(STAMP) ## Merge a corrected queue into data/labeled/review.jsonl: FILE=<jsonl or csv>
	@[ -n "$(FILE)" ] || { echo "usage: make import-labels FILE=<corrected queue .jsonl or .csv>"; exit 2; }
	$(BIN)/topicstance-import-labels 'file="$(FILE)"' $(ARGS)

# The report test drives Debian's chromium with Playwright (no browser download). Installed with
# apt when missing, as root or through passwordless sudo; otherwise that one test is skipped.
browser: ## Install chromium for the report's browser test when it is missing
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "no chromium and no root or sudo: the browser test will be skipped"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium \
	  || echo "chromium could not be installed: the browser test will be skipped"; }

lint: $(STAMP) ## Ruff
	$(BIN)/ruff check src tests benchmarks

clean: ## Remove the virtualenv and everything under experiments/ (runs, models, caches)
	rm -rf $(VENV) experiments/mlflow.db experiments/artifacts experiments/hydra experiments/cache
