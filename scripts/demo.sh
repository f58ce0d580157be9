#!/usr/bin/env bash
# make demo: the Budstikke story, narrated, on the embedded all-in-one server
# (DEMO_MODE=cluster: on the microservices, every service its own process).
# Makes development certificates under ./var/certs, starts budstikke-server on
# a fresh RocksDB under ./var/data, walks through the main flows with the
# budstikke CLI, stops the server, and exits 0 only if every step behaved as
# expected.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BUILD_DIR:-build}/bin
VAR=${DEMO_VAR:-$ROOT/var}
CERTS=$VAR/certs

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
say() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }

[ -x "$BIN/budstikke-server" ] && [ -x "$BIN/budstikke" ] || { echo "demo: run make build first"; exit 1; }

bash certs/dev-certs.sh "$CERTS" >/dev/null || { echo "demo: dev-certs.sh failed"; exit 1; }
# A new log each run, so also a new anchor (the audit log's last published checkpoint).
rm -rf "$VAR/data" "$VAR/cluster" "$VAR/audit.anchor"
mkdir -p "$VAR"

if [ "${DEMO_MODE:-all}" = cluster ]; then
  # Microservices mode: every service its own process, the gateway in front
  # (scripts/cluster.sh, as `make cluster`).
  export CLUSTER_DIR=$VAR/cluster BUILD_DIR=${BUILD_DIR:-build}
  mkdir -p "$CLUSTER_DIR"
  cp -a "$CERTS" "$CLUSTER_DIR/certs"
  # As the all-in-one server below: urgent referrals escalate after 3 s.
  OUT=$(CLUSTER_SERVER_FLAGS="--urgent-ack-minutes 0.05 ${CLUSTER_SERVER_FLAGS:-}" bash scripts/cluster.sh start) ||
    { echo "demo: cluster did not start: $OUT"; exit 1; }
  trap 'bash scripts/cluster.sh stop' EXIT
  PORT=${OUT##*gateway on localhost:}; PORT=${PORT%% *}
  SERVER_PID=""
  bold "Microservices mode: $(bash scripts/cluster.sh status | wc -l) processes; clients use the gateway"
else
# Emptied here, not by the redirect below: the background job opens it after
# the loop may already have read a previous run's port.
: >"$VAR/server.out"

"$BIN/budstikke-server" --listen 127.0.0.1:0 --data-dir "$VAR/data" \
  --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" --tls-ca "$CERTS/ca.pem" \
  --master-key-file "$CERTS/master.key" --audit-signing-key-file "$CERTS/audit-signing.key" \
  --audit-anchor-file "$VAR/audit.anchor" \
  --seed-directory certs/dev-directory.json --urgent-ack-minutes 0.05 \
  >"$VAR/server.out" 2>"$VAR/server.log" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null' EXIT

PORT=""
for _ in $(seq 1 200); do
  PORT=$(sed -n 's/^budstikke-server listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$VAR/server.out")
  [ -n "$PORT" ] && break
  kill -0 $SERVER_PID 2>/dev/null || break
  sleep 0.05
done
[ -n "$PORT" ] || { echo "demo: server did not start:"; cat "$VAR/server.log"; exit 1; }
fi

export BUDSTIKKE_SERVER=localhost:$PORT BUDSTIKKE_CA=$CERTS/ca.pem
passed=0; failed=0; LAST=""

# as IDENTITY EXPECTED_EXIT budstikke-args... : runs the CLI as a demo identity.
as() {
  local who=$1 want=$2; shift 2
  printf '\033[2m$ budstikke%s   # as %s\033[0m\n' "$(printf ' %q' "$@")" "$who"
  LAST=$(BUDSTIKKE_CERT=$CERTS/$who.pem BUDSTIKKE_KEY=$CERTS/$who.key "$BIN/budstikke" "$@" 2>"$VAR/last.err")
  local got=$?
  [ -n "$LAST" ] && printf '%s\n' "$LAST" | head -n 12
  [ -s "$VAR/last.err" ] && sed 's/^/  stderr: /' "$VAR/last.err"
  if [ "$got" = "$want" ]; then
    passed=$((passed + 1)); printf '  \033[32mok\033[0m (exit %s)\n' "$got"
  else
    failed=$((failed + 1)); printf '  \033[31mUNEXPECTED\033[0m exit %s, expected %s\n' "$got" "$want"
  fi
}
# expect TEXT: the last output contains TEXT.
expect() {
  # A here-string, not a pipe: grep -q stops reading at the first match, and
  # under pipefail the writer's SIGPIPE would fail the check.
  if grep -q -- "$1" <<<"$LAST"; then passed=$((passed + 1))
  else failed=$((failed + 1)); printf '  \033[31mUNEXPECTED\033[0m output lacks %s\n' "$1"; fi
}

# quiet IDENTITY budstikke-args... : runs the CLI silently (for polls); sets LAST,
# returns the CLI's exit code.
quiet() {
  local who=$1; shift
  LAST=$(BUDSTIKKE_CERT=$CERTS/$who.pem BUDSTIKKE_KEY=$CERTS/$who.key "$BIN/budstikke" "$@" 2>/dev/null)
}
# ok_if DESCRIPTION COMMAND...: a check that passes when COMMAND succeeds.
ok_if() {
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); printf '  \033[32mok\033[0m %s\n' "$what"
  else failed=$((failed + 1)); printf '  \033[31mUNEXPECTED\033[0m not true: %s\n' "$what"; fi
}
# field NAME: a top-level field of the JSON in LAST (strings bare, others as JSON).
field() { printf '%s' "$LAST" | python3 scripts/demo.d/lib.py field "$1"; }
# need VALUE WHAT: a value captured from JSON output is non-empty.
need() { ok_if "got the $2 (${1:-empty})" [ -n "$1" ]; }
# poll TRIES COMMAND...: reruns COMMAND every 0.1 s until it succeeds, at most TRIES times.
poll() {
  local tries=$1; shift
  for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

bold "Budstikke demo: server on localhost:$PORT, data in var/data, certificates in var/certs"

say "1. Every caller is known by its certificate (mTLS + SPIFFE ID)"
as kindergarten-staff 0 whoami
expect "bhg-solsikken"

say "2. The directory: everyone can read it"
as kindergarten-staff 0 directory list --type bup
expect "bup-oslo"

say "3. Only the operator's admin registers agencies; a kindergarten employee is refused"
as kindergarten-staff 4 directory create --id bup-bergen --name "BUP Bergen" --type bup --municipality 4601
as admin 0 directory create --id bup-bergen --name "BUP Bergen" --type bup --municipality 4601 --request-id demo-create-1
expect "BUP Bergen"
as admin 0 directory create --id bup-bergen --name "BUP Bergen" --type bup --municipality 4601 --request-id demo-create-1 --output json
expect '"id":"bup-bergen"'
as kindergarten-staff 0 directory get bup-bergen
as kindergarten-staff 4 directory get no-such-agency

# Further chapters (consultations, consent and referrals, audit) are added by
# scripts/demo.d/*.sh as those services land; each uses `as`, `expect`, `ok_if`,
# `need`, `field` and `poll`.
for chapter in scripts/demo.d/*.sh; do
  [ -f "$chapter" ] || continue
  # shellcheck source=/dev/null
  . "$chapter"
done

if [ -n "$SERVER_PID" ]; then kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null
else bash scripts/cluster.sh stop; fi
trap - EXIT
say "Summary"
echo "$passed checks passed, $failed failed"
[ "$failed" = 0 ] || { echo "demo: some steps did not behave as expected"; exit 1; }
echo "demo: every step behaved as expected"
