#!/usr/bin/env bash
# Regenerates the committed seed corpora (tests/fuzz/corpus/<target>/) from
# the fuzz targets themselves: each target knows a few valid inputs of its
# format (synthetic national ids only) and writes them when run with
# BUDSTIKKE_FUZZ_WRITE_SEEDS=DIR. Build the fuzzers first (make fuzz-smoke).
# Only the seed-NN files are rewritten: the inputs merged in from longer runs
# (named by their SHA-1) and the regress-* inputs of fixed findings stay.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
for bin in "$build_dir"/fuzz/fuzz_*; do
  t=${bin##*/fuzz_}
  rm -f "tests/fuzz/corpus/$t"/seed-*
  BUDSTIKKE_FUZZ_WRITE_SEEDS="tests/fuzz/corpus/$t" "$bin"
done
