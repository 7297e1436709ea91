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
STAMP := $(VENV)/.installed-$(shell cat requirements-bench.txt requirements-dev.txt | sha1sum | cut -c1-12)
BENCH_STAMP := $(VENV)/.bench-$(shell sha1sum requirements-bench.txt | cut -c1-12)

.PHONY: help demo invoke test check lint unit build venv venv-bench bench fuzz clean

help:
	@echo "make demo    run a blue/green release on the local bench (moto + fakes)"
	@echo "make invoke FN=<function> EVENT=events/<function>/<sample>.json   one function, one event, on the bench"
	@echo "make test    fmt, clippy, sam validate --lint, cfn-lint and every test"
	@echo "make build   sam build (arm64 bootstraps in .aws-sam/build)"
	@echo "make bench   release builds, then cold start, latency, memory, size and throughput"
	@echo "make fuzz    each cargo-fuzz target for FUZZ_SECONDS (default 60); crashes in fuzz/artifacts"

venv: $(STAMP)

# Everything: the emulator, the SAM CLI, cfn-lint, the AWS CLI, cargo-lambda.
$(STAMP): requirements-dev.txt requirements-bench.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(BENCH_STAMP)

# The demo and `make invoke` need only the emulator: a third of the download and of the disk.
venv-bench: $(BENCH_STAMP)

$(BENCH_STAMP): requirements-bench.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

demo: venv-bench
	cargo build --workspace --bins
	cargo run --quiet -p rollout-bench --bin demo -- $(if $(SCENARIO),--scenario $(SCENARIO),)

# One function, one sample event, on the bench (no Docker): response, logs, side effects.
invoke: venv-bench
	cargo build --workspace --bins
	cargo run --quiet -p rollout-bench --bin invoke -- \
	  $(if $(FN),--function $(FN),) $(if $(EVENT),--event $(EVENT),)

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

# Release builds as `sam build` makes them (cargo lambda, zig), then the measurements on the
# local bench; writes bench/results.{json,md} and the page docs/benchmarks.md, and prints the
# table. The x86_64 build also holds the measuring binary and the runtime floor, so the verdict
# timing runs with the function's own release settings. (`cargo bench -p validate-traffic --bench verdict` is criterion's view of it.)
# BENCH_ARM64=0 skips the arm64 build (its sizes then read "not built").
FUNCTION_BINS := --bin validate-traffic --bin shift-traffic --bin notify-slack
BENCH_ARM64 ?= 1
LAMBDA_DIR := $(or $(CARGO_TARGET_DIR),target)/lambda
bench: venv
	cargo lambda build --release --x86-64 --output-format zip --lambda-dir $(LAMBDA_DIR)/x86_64 \
	  -p rollout-bench -p validate-traffic -p shift-traffic -p notify-slack \
	  $(FUNCTION_BINS) --bin runtime-floor --bin measure
	@if [ "$(BENCH_ARM64)" != 0 ] && rustup target add aarch64-unknown-linux-gnu; then \
	  cargo lambda build --release --arm64 --output-format zip --lambda-dir $(LAMBDA_DIR)/arm64 \
	    -p validate-traffic -p shift-traffic -p notify-slack $(FUNCTION_BINS); \
	else \
	  echo "WARNING: arm64 build skipped (BENCH_ARM64=0 or no aarch64 target); arm64 sizes not measured"; \
	  rm -rf $(LAMBDA_DIR)/arm64; \
	fi
	$(or $(CARGO_TARGET_DIR),target)/x86_64-unknown-linux-gnu/release/measure

# cargo-fuzz on the stable toolchain: RUSTC_BOOTSTRAP=1 lets it pass libFuzzer's -Z flags, and
# the code is safe Rust, so the default runs without a sanitizer (a panic is the finding);
# FUZZ_SANITIZER=address adds ASan, whose build is several times slower.
# Every target runs even if one crashes; the run fails if any did. A crash becomes a regression
# test by copying its input from fuzz/artifacts/<target>/ to fuzz/regressions/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= sns_render spec_plan config
FUZZ_SANITIZER ?= none
FUZZ_TARGET_DIR ?= $(CURDIR)/target/fuzz
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@failed=""; \
	for target in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$target fuzz/regressions/$$target; \
	  echo "== fuzz $$target for $(FUZZ_SECONDS) s"; \
	  RUSTC_BOOTSTRAP=1 nice -n 15 cargo fuzz run $$target --debug-assertions \
	    --sanitizer $(FUZZ_SANITIZER) --target-dir $(FUZZ_TARGET_DIR) \
	    fuzz/corpus/$$target fuzz/seeds/$$target fuzz/regressions/$$target \
	    -- -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	    || failed="$$failed $$target"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in$$failed (see fuzz/artifacts/)"; exit 1; fi

clean:
	rm -rf .aws-sam target
