#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz (built in build-fuzz/ by
# `make fuzz-smoke` / `make fuzz`), each from its committed seed corpus
# (corpus/<target>/, copied to a temporary folder so the checkout is never
# changed), with ASan + UBSan and leak detection. Prints the executions of
# each target; fails, naming the target and the saved input, on any crash,
# leak, timeout or out-of-memory.
#
#   run.sh --smoke   each target min(30, 280 / number of targets) seconds (CI:
#                    the runs take at most 5 minutes in all)
#   run.sh           each target FUZZ_SECONDS seconds (default 600)
# FUZZ_TARGETS="a b" runs only those; FUZZ_BUILD_DIR (default build-fuzz);
# FUZZ_KEEP_CORPUS=DIR keeps each grown corpus in DIR/<target> (to merge good
# new inputs into corpus/ by hand).
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
corpus_root=tests/fuzz/corpus
targets=${FUZZ_TARGETS:-$(cd "$corpus_root" && ls -d -- */ | tr -d / | tr '\n' ' ')}
read -r -a targets <<<"$targets"
count=${#targets[@]}

if [ "${1:-}" = "--smoke" ]; then
  seconds=$((280 / count))
  if [ "$seconds" -gt 30 ]; then seconds=30; fi
else
  seconds=${FUZZ_SECONDS:-600}
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/budstikke-fuzz-run-XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"

# Leaks and UBSan findings are crashes; -fno-sanitize-recover already aborts.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

echo "fuzz: ${count} targets, ${seconds} s each"
failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$build_dir/fuzz/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is missing (build the fuzzers first: make fuzz-smoke)" >&2
    exit 2
  fi
  mkdir -p "$work/$t" "$artifacts/$t"
  cp -- "$corpus_root/$t"/* "$work/$t/"
  log="$work/$t.log"
  rc=0
  # One process, one job (the machine has 2 cores); -timeout: one input may
  # take at most 10 s; -rss_limit_mb: out-of-memory is a finding too.
  nice -n 5 "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$t/" "$work/$t" >"$log" 2>&1 || rc=$?
  # (|| true: a target that dies before its first line must still be reported.)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1 || true)
  cov=$({ grep -o 'cov: [0-9]*' "$log" || true; } | tail -n 1 | sed 's/cov: //')
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc); last lines of its log:" >&2
    tail -n 60 "$log" >&2
    echo "fuzz: $t: the input that failed is in $artifacts/$t/ (rerun: $bin FILE)" >&2
    failed+=("$t")
  fi
  summary+=("$(printf '%-16s %12s execs  cov %6s  %s' "$t" "${execs:-?}" "${cov:-?}" \
    "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)")")
  echo "${summary[-1]}"
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$t"
    cp -- "$work/$t"/* "$FUZZ_KEEP_CORPUS/$t/"
  fi
done

echo "fuzz: summary (${seconds} s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${count} targets passed"
