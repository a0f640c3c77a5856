# Ngazi. Quick start: `make run`, then `make test`. See README.md.
SHELL := /bin/bash
PORT ?= 5000
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
MO := $(patsubst %.po,%.mo,$(wildcard locales/*/LC_MESSAGES/messages.po))
PACKAGES := app menus models workers domain

.PHONY: run test lint translations bench worker migrate clean

$(RUN_STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(RUN_STAMP)
	$(BIN)/pybabel -q compile -i $< -o $@

## run: install, migrate, load demo data, serve on 127.0.0.1:$(PORT) (and an RQ worker when REDIS_URL is set)
run: $(RUN_STAMP) $(MO)
	$(FLASK) migrate
	$(FLASK) demo load
	$(FLASK) demo households
	@if [ -n "$$REDIS_URL" ]; then \
	  $(FLASK) worker & worker=$$!; \
	  trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	  trap 'exit 130' INT TERM; \
	  $(FLASK) run --host 127.0.0.1 --port $(PORT); \
	else \
	  exec $(FLASK) run --host 127.0.0.1 --port $(PORT); \
	fi

## test: lint, types, then the suite; with DATABASE_URL/REDIS_URL set, again on the embedded default
test: $(DEV_STAMP) $(MO) lint
	@echo "== tests: DATABASE_URL=$${DATABASE_URL:-(embedded SQLite)} REDIS_URL=$${REDIS_URL:-(embedded fakeredis)} =="
	$(BIN)/pytest -q
	@if [ -n "$$DATABASE_URL$$REDIS_URL" ]; then \
	  echo "== embedded default (SQLite, fakeredis, inline jobs) =="; \
	  env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -q; \
	fi

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## translations: extract messages, update every catalog, compile
translations: $(RUN_STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ --no-location --sort-output \
	  --project Ngazi --copyright-holder "Ngazi contributors" -o locales/messages.pot $(PACKAGES)
	$(BIN)/pybabel -q update -i locales/messages.pot -d locales --no-fuzzy-matching --width 100
	$(BIN)/pybabel -q compile -d locales --statistics

migrate: $(RUN_STAMP)
	$(FLASK) migrate

worker: $(RUN_STAMP) $(MO)
	$(FLASK) worker

## bench: USSD hops/s against a bare endpoint under gunicorn, then p50/p99 at half the maximum;
## then the same for cadres' household surveys (bench.survey), with a PostgreSQL check;
## then a campaign to 1,000,000 subscribers through two RQ workers (bench.campaign);
## then the produce-offer parser's accuracy on its labelled corpus and its speed (bench.offers);
## then inbound SMS accepted/s at the webhook and processed/s by two RQ workers (bench.inbound);
## then the console's analytics pages, CSV exports and household search over a synthetic
## population of 10,000,000 people (bench.console_scale; generating it the first time takes minutes);
## then a 15-minute soak of mixed traffic: errors, p99 per endpoint, memory growth (bench.soak)
bench: $(DEV_STAMP) $(MO)
	$(BIN)/python -m bench.ussd
	$(BIN)/python -m bench.survey
	$(BIN)/python -m bench.campaign
	$(BIN)/python -m bench.offers
	$(BIN)/python -m bench.inbound
	$(BIN)/python -m bench.console_scale
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
