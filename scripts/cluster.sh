#!/usr/bin/env bash
# make cluster: Budstikke in microservices mode on loopback, one process per
# service, each with its own data dir, keyring and certificate
# (spiffe://budstikke.test/service/NAME), plus the client-facing gateway and
# admin, which keep no data (admin fans key management and backups out to
# every service with data); see docs/ARCHITECTURE.md.
#
#   scripts/cluster.sh start    start every process; prints the gateway address
#   scripts/cluster.sh stop     stop them (SIGTERM, then SIGKILL after 10 s)
#   scripts/cluster.sh status   one line per process: name, pid, port, state
#   scripts/cluster.sh kill NAME      kill -9 one process (fault tests)
#   scripts/cluster.sh restart NAME   start one process again on its data dir
#   scripts/cluster.sh env      the environment for the CLI (BUDSTIKKE_SERVER, BUDSTIKKE_CA)
#
# Files go to $CLUSTER_DIR (default ./var/cluster): certs/, peers.json, one
# <name>/ data dir, <name>.log and <name>.out per process, pids. Binaries come
# from ${BUILD_DIR:-build}/bin. Extra server flags for every process:
# $CLUSTER_SERVER_FLAGS (e.g. --no-sync-writes).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
DIR=${CLUSTER_DIR:-$PWD/var/cluster}
CERTS=$DIR/certs
SERVICES=(directory audit inbox consultation consent referral admin)
ALL=("${SERVICES[@]}" gateway)

die() { echo "cluster.sh: $*" >&2; exit 1; }

port_of() { cat "$DIR/$1.port" 2>/dev/null; }
pid_of() { cat "$DIR/$1.pid" 2>/dev/null; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# Free loopback ports for every process, chosen once per cluster dir.
choose_ports() {
  python3 - "$DIR" "${ALL[@]}" <<'PY'
import socket, sys, os
d = sys.argv[1]
socks = []
for name in sys.argv[2:]:
    path = os.path.join(d, name + ".port")
    if os.path.exists(path):
        continue
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
    open(path, "w").write(str(s.getsockname()[1]))
for s in socks:
    s.close()
PY
}

write_peers() {
  local first=1 name
  {
    printf '{'
    for name in "${SERVICES[@]}"; do
      [ $first = 1 ] || printf ','
      first=0
      printf '"%s":"localhost:%s"' "$name" "$(port_of "$name")"
    done
    printf '}\n'
  } >"$DIR/peers.json"
}

start_one() {
  local name=$1 port
  port=$(port_of "$name")
  local -a args=(--target "$name" --listen "127.0.0.1:$port" --peers "$DIR/peers.json"
    --tls-cert "$CERTS/svc-$name.pem" --tls-key "$CERTS/svc-$name.key" --tls-ca "$CERTS/ca.pem"
    --master-key-file "$CERTS/master.key" --data-dir "$DIR/$name")
  [ "$name" = audit ] && args+=(--audit-signing-key-file "$CERTS/audit-signing.key"
    --audit-anchor-file "$DIR/audit.anchor")
  [ "$name" = directory ] && args+=(--seed-directory certs/dev-directory.json)
  : >"$DIR/$name.out"
  # shellcheck disable=SC2086
  "$BIN/budstikke-server" "${args[@]}" ${CLUSTER_SERVER_FLAGS:-} \
    >"$DIR/$name.out" 2>"$DIR/$name.log" &
  echo $! >"$DIR/$name.pid"
}

wait_listening() {
  local name=$1
  for _ in $(seq 1 300); do
    grep -q '^budstikke-server listening on' "$DIR/$name.out" 2>/dev/null && return 0
    alive "$name" || { echo "cluster.sh: $name did not start:" >&2; cat "$DIR/$name.out" "$DIR/$name.log" >&2; return 1; }
    sleep 0.05
  done
  echo "cluster.sh: $name did not start within 15 s" >&2
  return 1
}

cmd_start() {
  [ -x "$BIN/budstikke-server" ] || die "run make build first"
  mkdir -p "$DIR"
  bash certs/dev-certs.sh "$CERTS" >/dev/null 2>&1 || die "dev-certs.sh failed"
  # A port chosen free may be taken by another program before the process
  # binds it (tests run in parallel): then choose new ports, at most 3 times.
  local name attempt start_ok
  for attempt in 1 2 3; do
    choose_ports
    write_peers
    for name in "${ALL[@]}"; do
      alive "$name" && continue
      start_one "$name"
    done
    start_ok=1
    for name in "${ALL[@]}"; do wait_listening "$name" || { start_ok=0; break; }; done
    [ $start_ok = 1 ] && break
    cmd_stop
    [ "$attempt" = 3 ] && exit 1
    rm -f "$DIR"/*.port
    echo "cluster.sh: choosing new ports" >&2
  done
  echo "budstikke cluster: gateway on localhost:$(port_of gateway) (CA $CERTS/ca.pem)"
}

cmd_stop() {
  local name p
  for name in "${ALL[@]}"; do
    p=$(pid_of "$name"); [ -n "$p" ] && kill "$p" 2>/dev/null
  done
  for name in "${ALL[@]}"; do
    p=$(pid_of "$name"); [ -n "$p" ] || continue
    for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null
    rm -f "$DIR/$name.pid"
  done
  return 0
}

cmd_status() {
  local name
  for name in "${ALL[@]}"; do
    if alive "$name"; then state=up; else state=down; fi
    printf '%-13s pid %-7s port %-6s %s\n' "$name" "$(pid_of "$name")" "$(port_of "$name")" "$state"
  done
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill) [ -n "${2:-}" ] || die "kill NAME"; kill -9 "$(pid_of "$2")" 2>/dev/null; rm -f "$DIR/$2.pid" ;;
  restart) [ -n "${2:-}" ] || die "restart NAME"; alive "$2" && die "$2 is running"
    start_one "$2"; wait_listening "$2" ;;
  env) echo "BUDSTIKKE_SERVER=localhost:$(port_of gateway) BUDSTIKKE_CA=$CERTS/ca.pem" ;;
  *) die "usage: cluster.sh start|stop|status|kill NAME|restart NAME|env" ;;
esac
