#!/usr/bin/env bash
# Self-test of check_includes.sh: a small tree with one include of each kind,
# allowed and forbidden; the check must name exactly the forbidden ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
put() { mkdir -p "$tmp/$(dirname "$1")"; printf '%s\n' "${@:2}" >"$tmp/$1"; }
put services/consent/consent.h '#include "services/common/errors.h"' '#include "services/referral/x.h"'
put services/server/server.cc '#include "services/consent/consent.h"'
put services/common/authz.cc '#include "services/common/authz.h"' '  #  include "services/audit/audit.h"'
put services/audit/log.cc '#include <rocksdb/db.h>' '#include "storage/store.h"'
put storage/store.cc '#include "rocksdb/db.h"'
put clients/cpp/cli.cc '#include "tlog/tree.h"' '#include "storage/store.h"' '#include <services/common/x.h>'
want="clients/cpp/cli.cc:2: #include storage/store.h (clients/ include storage/ (clients depend on proto and tlog only))
clients/cpp/cli.cc:3: #include services/common/x.h (clients/ include services/ (clients depend on proto and tlog only))
services/audit/log.cc:1: #include rocksdb/db.h (RocksDB header outside storage/)
services/common/authz.cc:2: #include services/audit/audit.h (services/common includes no service)
services/consent/consent.h:2: #include services/referral/x.h (services/consent includes another service (services/referral))
check_includes: 5 include(s) against the dependency direction"
rc=0
got=$(bash "$here/check_includes.sh" "$tmp" 2>/dev/null) || rc=$?
if [ "$rc" -ne 1 ] || [ "$got" != "$want" ]; then
  printf 'check_includes self-test failed (exit %s); got:\n%s\nwant:\n%s\n' "$rc" "$got" "$want"
  exit 1
fi
rm "$tmp/clients/cpp/cli.cc" "$tmp/services/audit/log.cc" "$tmp/services/common/authz.cc" "$tmp/services/consent/consent.h"
got=$(bash "$here/check_includes.sh" "$tmp" 2>/dev/null) || { echo "check_includes self-test: clean tree refused: $got"; exit 1; }
echo "check_includes self-test: 2 passed, 0 failed"
