#!/usr/bin/env bash
# Dependency direction (DESIGN.md, "Dependencies point one way"), checked on the
# #include lines of every tracked C/C++ file:
#   1. a file in services/<a>/ includes no header of services/<b>/ for a != b;
#      services/server/ may include every service, services/common/ none but
#      itself (every service may include services/common/);
#   2. nothing outside storage/ includes a RocksDB header (<rocksdb/...>);
#   3. clients/ includes nothing from services/ or storage/.
# Prints each offending include as file:line: include (rule) and exits 1 if
# there is one. Usage: check_includes.sh [ROOT] (default: the repository;
# ROOT need not be a git checkout, which the self-test
# scripts/check_includes_test.sh uses).
set -euo pipefail
root=${1:-"$(dirname "$0")/.."}
cd "$root"

# Known exceptions, one "file include" per line, each with the reason.
allowed=(
  # a unit test may compose real services (here the admin domain over a real
  # directory); the services' own code may not
  "services/admin/admin_test.cc services/directory/directory.h"
  # benchmarks: the raw RocksDB baseline the encrypted store is measured against
  "bench/audit_bench.cc rocksdb/db.h"
  "bench/audit_bench.cc rocksdb/write_batch.h"
  "bench/storage_bench.cc rocksdb/db.h"
  "bench/storage_bench.cc rocksdb/options.h"
)

if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ -z "${CHECK_INCLUDES_ALL_FILES:-}" ]; then
  mapfile -t files < <(git ls-files '*.cc' '*.h' '*.cpp' '*.hpp' | grep -v '^proto/third_party/')
else
  mapfile -t files < <(find . -type f \( -name '*.cc' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) \
    -not -path './build*' -not -path './proto/third_party/*' | sed 's|^\./||' | sort)
fi

report=$(
  for f in "${files[@]}"; do [ -f "$f" ] && printf '%s\n' "$f"; done |
    xargs -r -d '\n' awk -v allowed="$(printf '%s\n' "${allowed[@]}")" '
    BEGIN { n = split(allowed, lines, "\n"); for (i = 1; i <= n; i++) ok[lines[i]] = 1 }
    match($0, /^[ \t]*#[ \t]*include[ \t]*[<"][^>"]+[>"]/) {
      inc = substr($0, RSTART, RLENGTH); sub(/^[^<"]*[<"]/, "", inc); sub(/[>"]$/, "", inc)
      why = ""
      split(FILENAME, f, "/"); split(inc, h, "/")
      if (f[1] == "services" && h[1] == "services" && f[2] != h[2]) {
        if (f[2] == "common") why = "services/common includes no service"
        else if (f[2] != "server" && h[2] != "common")
          why = "services/" f[2] " includes another service (services/" h[2] ")"
      }
      if (h[1] == "rocksdb" && f[1] != "storage") why = "RocksDB header outside storage/"
      if (f[1] == "clients" && (h[1] == "services" || h[1] == "storage"))
        why = "clients/ include " h[1] "/ (clients depend on proto and tlog only)"
      if (why != "" && !((FILENAME " " inc) in ok))
        printf "%s:%d: #include %s (%s)\n", FILENAME, FNR, inc, why
    }'
)
# Allow-list entries that match no include any more should be deleted.
for entry in "${allowed[@]}"; do
  f=${entry%% *} inc=${entry#* }
  if [ ! -f "$f" ] || ! grep -q "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]$inc[>\"]" "$f"; then
    echo "check_includes: note: allow-list entry '$entry' matches nothing: delete it" >&2
  fi
done
if [ -n "$report" ]; then
  printf '%s\n' "$report"
  echo "check_includes: $(printf '%s\n' "$report" | wc -l) include(s) against the dependency direction"
  exit 1
fi
echo "check_includes: ${#files[@]} files, dependency direction kept"
