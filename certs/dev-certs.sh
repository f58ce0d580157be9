#!/usr/bin/env bash
# dev-certs.sh DIR: development PKI and key files for budstikke-server (OpenSSL CLI only).
#
# Writes into DIR (created if missing):
#   ca.pem, ca.key            development CA (ca.key kept so tests can mint more)
#   server.pem, server.key    server certificate, SANs DNS:localhost, IP:127.0.0.1,
#                             URI:spiffe://<td>/service/server
#   <name>.pem, <name>.key    one client certificate per line of dev-identities.txt,
#                             exactly one URI SAN (the SPIFFE ID), EKU clientAuth;
#                             svc-* (services) also serverAuth with DNS:localhost,
#                             IP:127.0.0.1 SANs (microservices mode)
#   master.key                32 raw random bytes (--master-key-file)
#   audit-signing.key         Ed25519 PKCS#8 PEM (--audit-signing-key-file)
# Keys are ECDSA P-256 (PKCS#8 PEM); every key file is mode 0600. Certificates are
# valid for 825 days.
#
# Idempotent: an existing CA, master key and signing key are kept; only missing
# certificates are made. Delete DIR to start over.
# BUDSTIKKE_TRUST_DOMAIN (default budstikke.test) replaces the trust domain of every
# SPIFFE ID; it only affects certificates made in this run.
# BUDSTIKKE_IDENTITIES overrides the identities file (default: beside this script).
# Keys are never committed: keep DIR outside the repository or in an ignored folder
# (.gitignore has /var/, *.key and *.pem).
set -euo pipefail
umask 077

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MINT="$HERE/mint-cert.sh"
IDENTITIES=${BUDSTIKKE_IDENTITIES:-$HERE/dev-identities.txt}
TD=${BUDSTIKKE_TRUST_DOMAIN:-budstikke.test}

die() { echo "dev-certs.sh: $*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: dev-certs.sh DIR"
DIR=$1
[[ "$TD" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]] || die "bad BUDSTIKKE_TRUST_DOMAIN '$TD'"
[[ -r "$IDENTITIES" ]] || die "cannot read $IDENTITIES"
command -v openssl >/dev/null || die "openssl not found"
mkdir -p "$DIR"

bash "$MINT" make-ca "$DIR" --cn "Budstikke development CA ($TD)"

if [[ ! -e "$DIR/master.key" ]]; then
  head -c 32 /dev/urandom >"$DIR/master.key.tmp"
  chmod 600 "$DIR/master.key.tmp"
  mv "$DIR/master.key.tmp" "$DIR/master.key"
fi

if [[ ! -e "$DIR/audit-signing.key" ]]; then
  openssl genpkey -algorithm ed25519 -out "$DIR/audit-signing.key.tmp"
  chmod 600 "$DIR/audit-signing.key.tmp"
  mv "$DIR/audit-signing.key.tmp" "$DIR/audit-signing.key"
fi

if [[ ! -e "$DIR/server.pem" || ! -e "$DIR/server.key" ]]; then
  bash "$MINT" "$DIR" server --server --cn localhost \
    --dns localhost --ip 127.0.0.1 --uri "spiffe://$TD/service/server"
fi

made=0 kept=0 lineno=0
while IFS= read -r line || [[ -n "$line" ]]; do
  lineno=$((lineno + 1))
  line=${line%%#*}
  read -r name id extra <<<"$line" || true
  [[ -z "${name:-}" ]] && continue
  [[ -n "${id:-}" && -z "${extra:-}" ]] ||
    die "$IDENTITIES:$lineno: expected '<name> <spiffe-id>'"
  [[ "$name" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "$IDENTITIES:$lineno: bad name '$name'"
  [[ "$name" != ca && "$name" != server ]] || die "$IDENTITIES:$lineno: reserved name '$name'"
  [[ "$id" =~ ^spiffe://[^/]+/.+ ]] || die "$IDENTITIES:$lineno: not a SPIFFE ID: '$id'"
  id="spiffe://$TD/${id#spiffe://*/}"
  if [[ -e "$DIR/$name.pem" && -e "$DIR/$name.key" ]]; then
    kept=$((kept + 1))
    continue
  fi
  if [[ "$name" == svc-* ]]; then
    # Microservices: one certificate per service, to serve and to call peers.
    bash "$MINT" "$DIR" "$name" --service --dns localhost --ip 127.0.0.1 --uri "$id"
  else
    bash "$MINT" "$DIR" "$name" --uri "$id"
  fi
  made=$((made + 1))
done <"$IDENTITIES"

echo "dev-certs.sh: $DIR ready (trust domain $TD; $made identity certificates made, $kept kept)" >&2
