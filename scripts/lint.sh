#!/usr/bin/env bash
# Formatting (clang-format, Google-based .clang-format), the dependency
# direction of #includes (check_includes.sh, with its self-test) and
# naming/bug checks (clang-tidy, .clang-tidy) over first-party C++ sources.
# Needs a configured build dir with compile_commands.json (make configure);
# generated headers come from the build (make build) for clang-tidy.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}

mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^proto/third_party/')
echo "lint: clang-format on ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}"

bash scripts/check_includes_test.sh
bash scripts/check_includes.sh

mapfile -t sources < <(git ls-files '*.cc' | grep -E '^(services|storage|tlog|clients)/' | grep -v '_test\.cc$')
# clang-tidy parses gRPC and protobuf headers for every file (~25 s of CPU
# each), so a file already found clean with the same content, the same
# first-party headers, .clang-tidy and clang-tidy version is not checked again.
cache=${BUDSTIKKE_TIDY_CACHE:-$HOME/.cache/budstikke-clang-tidy}
mkdir -p "$cache"
context=$( { clang-tidy --version; cat .clang-tidy; git ls-files -z '*.h' | xargs -0 sha256sum; } |
  sha256sum | cut -c1-64)
key() { { echo "$context"; sha256sum <"$1"; } | sha256sum | cut -c1-64; }
todo=()
for f in "${sources[@]}"; do [ -e "$cache/$(key "$f")" ] || todo+=("$f"); done
echo "lint: clang-tidy on ${#todo[@]} of ${#sources[@]} files (the others are unchanged since a clean run)"
if [ ${#todo[@]} -gt 0 ]; then
  run-clang-tidy -quiet -p "$BUILD" -j "$(nproc)" "${todo[@]}" >"$BUILD/clang-tidy.log" 2>&1 || {
    grep -E 'error:|warning:' "$BUILD/clang-tidy.log" | sort -u | head -50
    echo "lint: clang-tidy found problems (full log: $BUILD/clang-tidy.log)"
    exit 1
  }
  for f in "${todo[@]}"; do : >"$cache/$(key "$f")"; done
fi
echo "lint: clean"
