# Budstikke developer entry points. See README.md.
BUILD_DIR ?= build
# The asan and fuzz presets' binaryDirs (CMakePresets.json).
ASAN_DIR := build-asan
FUZZ_DIR := build-fuzz
# make fuzz: seconds per fuzz target.
FUZZ_SECONDS ?= 600
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-asan lint demo demo-cluster cluster cluster-stop bench bench-smoke fuzz-build fuzz-smoke fuzz fmt clean

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

bench: build
	bash scripts/bench.sh

bench-smoke: build
	bash scripts/bench.sh --smoke

fmt:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR) var
