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

ROOTFS=$(mktemp -d)
trap 'rm -rf "$ROOTFS"' EXIT
# The temporary root: the system's own units (sysinit.target, ...), ours, and the binary.
mkdir -p "$ROOTFS/usr/lib/systemd" "$ROOTFS/etc/systemd/system/budstikke@audit.service.d" "$ROOTFS/usr/bin"
cp -r /usr/lib/systemd/system "$ROOTFS/usr/lib/systemd/"
cp "$UNITS/budstikke-server.service" "$UNITS/budstikke@.service" "$ROOTFS/etc/systemd/system/"
cp "$UNITS/budstikke-data.conf" "$ROOTFS/etc/systemd/system/budstikke@audit.service.d/data.conf"
cp "$UNITS/budstikke-audit.conf" "$ROOTFS/etc/systemd/system/budstikke@audit.service.d/audit.conf"
install -m 0755 "$BIN/budstikke-server" "$ROOTFS/usr/bin/budstikke-server"

# The commands of docs/DEPLOY.md ("tested: systemd"), verbatim.
expect_clean() {  # UNIT, then the command's output and status
  if [ "$2" -eq 0 ] && [ -z "$3" ]; then ok "systemd-analyze verify $1"; else bad "systemd-analyze verify $1: $3"; fi
}
out=$(systemd-analyze verify --root="$ROOTFS" budstikke-server.service 2>&1)
expect_clean budstikke-server.service $? "$out"
out=$(systemd-analyze verify --root="$ROOTFS" budstikke@audit.service 2>&1)
expect_clean budstikke@audit.service $? "$out"
out=$(systemd-analyze verify --root="$ROOTFS" budstikke@gateway.service 2>&1)
expect_clean budstikke@gateway.service $? "$out"

rm "$ROOTFS/usr/bin/budstikke-server"
out=$(systemd-analyze verify --root="$ROOTFS" budstikke-server.service 2>&1)
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
