#!/usr/bin/env bash
# deploy/systemd units (issue 18, acceptance 5):
#   systemd_test.sh BIN_DIR
# - `systemd-analyze verify` accepts budstikke-server.service and
#   budstikke@.service (as budstikke@audit with both drop-ins, and as
#   budstikke@gateway without), with budstikke-server installed where ExecStart
#   points, under a temporary root (the same commands as docs/DEPLOY.md);
# - it refuses them when the binary is missing (the check can fail);
# - the hardening the issue asks for is there;
# - every flag in ExecStart and the drop-ins is a flag of budstikke-server --help.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$1
UNITS=$ROOT/deploy/systemd
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok   $*"; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# The temporary root: the system's own units (sysinit.target, ...), ours, and the binary.
mkdir -p "$T/usr/lib/systemd" "$T/etc/systemd/system/budstikke@audit.service.d" "$T/usr/bin"
cp -r /usr/lib/systemd/system "$T/usr/lib/systemd/"
cp "$UNITS/budstikke-server.service" "$UNITS/budstikke@.service" "$T/etc/systemd/system/"
cp "$UNITS/budstikke-data.conf" "$T/etc/systemd/system/budstikke@audit.service.d/data.conf"
cp "$UNITS/budstikke-audit.conf" "$T/etc/systemd/system/budstikke@audit.service.d/audit.conf"
install -m 0755 "$BIN/budstikke-server" "$T/usr/bin/budstikke-server"

for unit in budstikke-server.service budstikke@audit.service budstikke@gateway.service; do
  if out=$(systemd-analyze verify --root="$T" "$unit" 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify $unit"
  else
    bad "systemd-analyze verify $unit: $out"
  fi
done

rm "$T/usr/bin/budstikke-server"
out=$(systemd-analyze verify --root="$T" budstikke-server.service 2>&1)
if [ $? -ne 0 ] && grep -q "is not executable" <<<"$out"; then
  ok "without the binary verify refuses: $out"
else
  bad "verify accepted budstikke-server.service without its binary: $out"
fi

for unit in budstikke-server.service budstikke@.service; do
  for want in DynamicUser=yes ProtectSystem=strict "StateDirectory=budstikke" NoNewPrivileges=yes \
      LoadCredential=tls.key: "CapabilityBoundingSet=$" UMask=0077 PrivateTmp=yes ProtectHome=yes; do
    grep -q "^$want" "$UNITS/$unit" || bad "$unit has no $want"
  done
done
ok "hardening directives present"

flags=$("$BIN/budstikke-server" --help | grep -o -- '--[a-z-]*' | sort -u)
for f in "$UNITS"/budstikke-server.service "$UNITS"/budstikke@.service "$UNITS"/budstikke-*.conf; do
  for used in $(sed -n '/^ExecStart=/,/[^\\]$/p; /^Environment="BUDSTIKKE/p' "$f" | grep -o -- ' --[a-z-]*' | sort -u); do
    grep -qx -- "$used" <<<"$flags" || bad "$(basename "$f") uses $used, which budstikke-server does not know"
  done
done
ok "every flag in the units is a budstikke-server flag"
exit $fail
