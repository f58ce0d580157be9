# Budstikke developer entry points. See README.md.
BUILD_DIR ?= build
# The asan and fuzz presets' binaryDirs (CMakePresets.json).
ASAN_DIR := build-asan
FUZZ_DIR := build-fuzz
# make fuzz: seconds per fuzz target.
FUZZ_SECONDS ?= 600
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-asan lint demo demo-cluster cluster cluster-stop bench bench-smoke bench-scale soak-bins soak soak-short abuse fuzz-build fuzz-smoke fuzz fmt clean

all: build

deps:
	bash scripts/install-deps.sh

# Build folders come from CMakePresets.json: `release` (RelWithDebInfo) in
# $(BUILD_DIR), `asan` (Debug, ASan + UBSan, no benchmarks) in build-asan.
$(BUILD_DIR)/build.ninja:
	cmake --preset release -B $(BUILD_DIR) $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds everything and runs every test (unit, integration, SDK) once.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# AddressSanitizer + UBSan on every test labelled `unit` (the `asan` test
# preset filters on the label; the `unit_tests` target builds what they run,
# see cmake/BudstikkeHelpers.cmake), so a new unit test is covered without
# editing this file. Any UBSan finding fails the test (halt_on_error).
test-asan:
	cmake --preset asan $(CMAKE_FLAGS)
	cmake --build --preset asan -j $(JOBS) --target unit_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --preset asan -j $(JOBS) --timeout 900 --no-tests=error

# libFuzzer targets (tests/fuzz, README.md "Fuzzing"): clang-14 with
# ASan + UBSan in $(FUZZ_DIR), only the libraries the fuzzers need.
$(FUZZ_DIR)/build.ninja:
	cmake --preset fuzz $(CMAKE_FLAGS)

fuzz-build: $(FUZZ_DIR)/build.ninja
	cmake --build --preset fuzz -j $(JOBS) --target fuzzers

# Every target min(30 s, 280 s / targets) from its committed corpus (CI; the
# runs take at most 5 minutes in all, the build comes before them).
fuzz-smoke: fuzz-build
	bash tests/fuzz/run.sh --smoke

# Longer runs outside CI: FUZZ_SECONDS per target (default 600),
# FUZZ_TARGETS="national_id envelope" for some only.
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

# clang-format check, clang-tidy (naming, use-after-move) on first-party code,
# and the dependency direction of #includes (scripts/check_includes.sh).
# Needs the generated protobuf headers, so builds those first.
lint: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target budstikke_proto budstikke_reflection_proto
	BUILD_DIR=$(BUILD_DIR) bash scripts/lint.sh

demo: deps build
	bash scripts/demo.sh

# The same story against the microservices (one process per service).
demo-cluster: deps build
	DEMO_MODE=cluster bash scripts/demo.sh

# Microservices mode on loopback: every service its own process, the gateway
# in front (scripts/cluster.sh; `make cluster-stop` stops it).
cluster: build
	bash scripts/cluster.sh start

cluster-stop:
	bash scripts/cluster.sh stop

# Then budstikke-loadgen against the bare gRPC limit (bench/run_loadgen.py):
# ends with the table of issue 23's targets, measured ratio and met or not.
bench: build
	bash scripts/bench.sh
	BUILD_DIR=$(BUILD_DIR) python3 bench/run_loadgen.py

bench-smoke: build
	bash scripts/bench.sh --smoke
	BUILD_DIR=$(BUILD_DIR) python3 bench/run_loadgen.py --smoke

# How latency, memory and disk grow with the data (bench/scale.py): fills
# 10k -> 100k -> 1M records over gRPC in both write modes, audit logs of 10k ->
# 10M events in process; writes docs/scale.csv and docs/scale.png. About half
# an hour on 2 cores; not in CI. SCALE_FLAGS e.g. --steps 10000,100000.
SCALE_FLAGS ?=
bench-scale: build
	BUILD_DIR=$(BUILD_DIR) python3 bench/scale.py $(SCALE_FLAGS)

# Crash loop (tests/soak/crash_loop.py): rounds of kill -9 under mixed load, then
# every acknowledged write is checked (present, decryptable, indexed, audited
# once, audit verify --state passes). `make soak`: SOAK_ROUNDS rounds (default
# 50) in each mode; `make soak-short` (CI): 5 all-in-one + 3 microservices.
# Each mode ends with a summary line (rounds passed, writes checked, lost,
# duplicates, seconds). --self-test first proves the checks report a falsified
# ledger.
SOAK_ROUNDS ?= 50
soak-bins: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target budstikke-server budstikke

soak: soak-bins
	BUDSTIKKE_BIN_DIR=$(abspath $(BUILD_DIR))/bin /usr/bin/python3 tests/soak/crash_loop.py --self-test \
	  --rounds-all $(SOAK_ROUNDS) --rounds-cluster $(SOAK_ROUNDS)
	$(MAKE) abuse

# Abuse (tests/soak/abuse.py): oversized messages and headers, 5,000 Subscribe
# streams, never-reading streams, connection churn, expired / not-yet-valid /
# untrusted certificates, each while 4 well-behaved clients run a paced mix;
# fails if their p99 exceeds 3x the baseline's, one of them gets an error, or
# the server's peak RSS exceeds 512 MiB. ABUSE_SECONDS per phase (default 30:
# about 7 minutes). Not in soak-short: it does not fit CI's 3 minutes.
ABUSE_SECONDS ?= 30
abuse: soak-bins
	BUDSTIKKE_BIN_DIR=$(abspath $(BUILD_DIR))/bin /usr/bin/python3 tests/soak/abuse.py \
	  --seconds $(ABUSE_SECONDS)

soak-short: soak-bins
	BUDSTIKKE_BIN_DIR=$(abspath $(BUILD_DIR))/bin /usr/bin/python3 tests/soak/crash_loop.py --self-test \
	  --rounds-all 5 --rounds-cluster 3

fmt:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR) var
