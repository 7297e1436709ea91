# rollout-lambdas: every entry point installs what it needs on a fresh machine (Rust, Python 3
# with pip, make), into the project-local .venv for the Python tools.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= never
SAM := $(VENV)/bin/sam
STAMP := $(VENV)/.installed-$(shell sha1sum requirements-dev.txt | cut -c1-12)

.PHONY: help demo test check lint unit build venv bench fuzz clean

help:
	@echo "make demo    run a blue/green release on the local bench (moto + fakes)"
	@echo "make test    fmt, clippy, sam validate --lint, cfn-lint and every test"
	@echo "make build   sam build (arm64 bootstraps in .aws-sam/build)"

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

demo: venv
	cargo build --workspace --bins
	cargo run --quiet -p rollout-bench --bin demo -- $(if $(SCENARIO),--scenario $(SCENARIO),)

test: venv lint unit

lint: venv
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(SAM) validate --lint
	$(VENV)/bin/cfn-lint template.yaml

# The runtime-level tests run the function binaries, so they are built first.
unit: venv
	cargo build --workspace --bins
	cargo test --workspace

build: venv
	@if rustup target add aarch64-unknown-linux-gnu; then \
	  $(SAM) build; \
	  ls -l .aws-sam/build/*/bootstrap; \
	else \
	  echo "WARNING: rustup could not add aarch64-unknown-linux-gnu; sam build (arm64) skipped"; \
	fi

clean:
	rm -rf .aws-sam target
