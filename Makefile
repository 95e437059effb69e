# DropTurk: every set-up and check starts here. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

# The test suite runs against the real services on this machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: bench-pages bench-detector calibrate help install system-deps services run migrate seed worker test bench bench-quick bench-cost bench-pipeline bench-export bench-audit train train-orientation lexicon bench-ocr bench-loop contact-sheet screens lint format clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: system-deps $(STAMP) ## Create .venv and install the project with its tools

system-deps: ## Install system packages (Tesseract's English data, Chromium for browser tests), as root
	@scripts/system-deps.sh

services: ## Start the local PostgreSQL and Redis if they are down
	@scripts/services.sh

migrate: install ## Apply database migrations (embedded SQLite unless DATABASE_URL is set)
	$(BIN)/python manage.py migrate --noinput

seed: migrate ## Create demo accounts (printed) and demo documents
	$(BIN)/python manage.py seed_demo

run: seed ## Install, migrate, seed, then serve on 127.0.0.1:8000 with a worker (Ctrl-C stops both)
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/honcho -f Procfile.dev start

worker: install ## Run only a Celery worker (all queues)
	$(BIN)/celery -A dropturk worker -Q ocr,training,default -l INFO

test: install services ## Install and run the whole suite against the local PostgreSQL and Redis
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

bench: install services ## Speed benchmarks: the annotator loop (100k crops, 1/8/32 annotators, lease 1 and 5), then the pipeline
	$(BIN)/python -m benchmarks.annotator_loop --crops $${BENCH_CROPS:-100000} --seconds $${BENCH_SECONDS:-60} --batch 1 5
	$(BIN)/python -m benchmarks.pipeline --pages $${BENCH_PAGES:-10}

bench-quick: install services ## The annotator-loop benchmark, small: 10k crops, 20 s per level (under 3 minutes)
	$(BIN)/python -m benchmarks.annotator_loop --crops 10000 --seconds 20 --database dropturk_bench_quick

bench-cost: install services ## CPU of one annotator-loop cycle in-process, in units of a reference loop (compares code on a noisy machine)
	$(BIN)/python -m benchmarks.request_cost --cycles $${BENCH_CYCLES:-400}

bench-pipeline: install services ## Receipts per second from upload to ready through Redis, PostgreSQL and a 2-process worker (BENCH_PAGES, default 40)
	$(BIN)/python -m benchmarks.pipeline --pages $${BENCH_PAGES:-40}

bench-export: install ## Export speed: 10k and 100k synthetic crops to every format, seconds and peak RSS (BENCH_EXPORT_CROPS to change)
	$(BIN)/python -m benchmarks.export_speed --crops $${BENCH_EXPORT_CROPS:-10000 100000}

bench-audit: install services ## The audit event list on 10M events in a scratch PostgreSQL database (BENCH_AUDIT_EVENTS to change)
	$(BIN)/python -m benchmarks.audit_listing --events $${BENCH_AUDIT_EVENTS:-10000000}

# The word recognizer learns in two stages, both on synthetic words only: 6,000 steps from
# scratch, then 3,000 from those weights with 30% of the words shrunk to small scanned type
# and crops enlarged with Lanczos (see README, "Our word recognizer").
RECOGNIZER_STAGE_2 := --seed 1 --steps 3000 --learning-rate 5e-4 --small-print-share 0.3 --upscale lanczos

train: install ## Train the word recognizer from scratch on synthetic data, two stages (reproduces the shipped weights; CPU, ~60 min), then the orientation classifier
	$(BIN)/python -m ocr.train --out var/train --no-resume
	$(BIN)/python -m ocr.train --out var/train-stage-2 --no-resume --init var/train/crnn.pt $(RECOGNIZER_STAGE_2) --export ocr/recognition/weights/crnn.pt
	$(MAKE) train-orientation

train-orientation: install ## Train the orientation classifier on synthetic turned words (reproduces its shipped weights; CPU, ~15 min)
	$(BIN)/python -m ocr.orientation.train --out var/train-orientation --export ocr/orientation/weights/orientation.pt

lexicon: install ## Write the recognizer's lexicon (ocr/recognition/lexicon.txt.gz) from the synthetic corpus's words (needs the system word list, wamerican)
	$(BIN)/python -m ocr.recognition.lexicon

bench-ocr: install ## Our CRNN vs Tesseract vs RapidOCR on real receipt and form words (needs ../shared/data)
	$(BIN)/python -m pip install --quiet -e '.[ocr-bench]'
	@# RapidOCR pulls opencv-python, which overwrites the headless cv2 the project uses: restore it.
	@if $(BIN)/python -m pip show -q opencv-python 2>/dev/null; then \
	  $(BIN)/python -m pip uninstall --quiet -y opencv-python; \
	  $(BIN)/python -m pip install --quiet --force-reinstall --no-deps 'opencv-python-headless>=4.10,<5'; fi
	$(BIN)/python -m benchmarks.ocr_engines --limit $${BENCH_OCR_LIMIT:-1000}

# The development sample (real receipts and forms); OCR figures are read on its reporting half.
SHARED_DATA ?= ../shared/data

bench-pages: install ## Whole receipts read end to end: ours vs Tesseract's full-page OCR, F1 and s/page on the reporting half (needs ../shared/data)
	$(BIN)/python -m ocr.evaluate pages --data $(SHARED_DATA)/sroie-receipts --half reporting --engine crnn,tesseract

bench-detector: install ## Word boxes: the detector on the forms' and receipts' reporting halves, beside the old MSER one (needs ../shared/data)
	$(BIN)/python -m ocr.evaluate detector --data $(SHARED_DATA)/funsd-forms --half reporting
	$(BIN)/python -m ocr.evaluate detector --data $(SHARED_DATA)/funsd-forms --half reporting --detector mser
	$(BIN)/python -m ocr.evaluate detector --data $(SHARED_DATA)/sroie-receipts --half reporting

calibrate: install ## Refit the page reader's confidence tables on the tuning half (after a detector or recognizer change), print the reporting half's reliability table
	$(BIN)/python -m ocr.page.calibrate --data $(SHARED_DATA)/sroie-receipts

bench-loop: install services ## The learning loop on the SROIE receipts: label with simulated annotators, retrain, learning curve (docs/learning-curve.png)
	$(BIN)/python -m benchmarks.learning_loop $${BENCH_LOOP_ARGS:-}

contact-sheet: install ## Render docs/synthetic-contact-sheet.png (and -small-print.png, the 2nd stage's): synthetic training crops with their labels
	$(BIN)/python -m ocr.synth.contact_sheet --out docs/synthetic-contact-sheet.png
	$(BIN)/python -m ocr.synth.contact_sheet --small-print-share 1 --out docs/synthetic-small-print.png

screens: install services ## A screenshot of each page, every role's, into docs/screens/ (Chromium; the demo's data; secrets masked)
	SCREENS_DIR=docs/screens DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest tests/e2e/test_screens.py -q

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the virtualenv and local state (var/): the embedded database and blobs
	rm -rf $(VENV) var
