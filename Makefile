# Budstikke developer entry points. See README.md.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-asan lint demo bench bench-smoke fmt clean

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds everything and runs every test (unit, integration, SDK) once.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# AddressSanitizer + UBSan on the domain and library unit tests (the subset
# that exercises parsing, crypto, storage and policy code without servers).
ASAN_TESTS = store_test aead_test keyring_test envelope_test pseudonymizer_test merkle_log_test \
  tlog_tree_test tlog_note_test identity_test authz_test errors_test national_id_test record_codec_test \
  domain_executor_test \
  pii_scanner_test directory_test admin_test audit_test consultation_domain_test \
  inbox_domain_test referral_policy_test referral_domain_test
empty :=
space := $(empty) $(empty)
test-asan:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBUDSTIKKE_ASAN=ON -DBUDSTIKKE_BUILD_BENCH=OFF
	cmake --build $(ASAN_DIR) -j $(JOBS) --target $(ASAN_TESTS)
	cd $(ASAN_DIR) && ctest --output-on-failure -j $(JOBS) -R '^($(subst $(space),|,$(ASAN_TESTS)))$$'

# clang-format check and clang-tidy (naming, use-after-move) on first-party code.
lint: configure
	bash scripts/lint.sh

demo: deps build
	bash scripts/demo.sh

bench: build
	bash scripts/bench.sh

bench-smoke: build
	bash scripts/bench.sh --smoke

fmt:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) var
