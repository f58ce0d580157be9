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
echo "lint: clang-tidy on ${#sources[@]} files"
run-clang-tidy -quiet -p "$BUILD" -j "$(nproc)" "${sources[@]}" >"$BUILD/clang-tidy.log" 2>&1 || {
  grep -E 'error:|warning:' "$BUILD/clang-tidy.log" | sort -u | head -50
  echo "lint: clang-tidy found problems (full log: $BUILD/clang-tidy.log)"
  exit 1
}
echo "lint: clean"
