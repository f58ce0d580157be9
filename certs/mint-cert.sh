#!/usr/bin/env bash
# mint-cert.sh: make development CAs and certificates (OpenSSL CLI only).
# Used by certs/dev-certs.sh and by tests that need odd certificates.
#
# Usage:
#   mint-cert.sh make-ca CADIR [--cn CN] [--days N]
#       Writes CADIR/ca.pem and CADIR/ca.key (0600) unless CADIR/ca.pem exists.
#       Use a separate CADIR for a second, untrusted CA.
#   mint-cert.sh DIR NAME [--uri URI]... [--dns NAME]... [--ip ADDR]...
#                [--ca-dir CADIR] [--server | --service] [--days N] [--cn CN]
#       Writes DIR/NAME.pem and DIR/NAME.key (0600), overwriting them, signed by
#       the CA in CADIR (default DIR). Every --uri/--dns/--ip becomes one SAN
#       entry, in order; none at all gives a certificate without SAN extension.
#       The URI is taken verbatim, so any string (malformed SPIFFE IDs, two URI
#       SANs, ...) can be minted. EKU is clientAuth, or serverAuth with --server,
#       or both with --service (a microservice's one certificate: it serves and
#       it calls its peers).
#       --days defaults to 825 (the maximum).
#
# Examples:
#   mint-cert.sh "$D" nosan                                   # zero URI SANs
#   mint-cert.sh "$D" two --uri spiffe://budstikke.test/service/a \
#                         --uri spiffe://budstikke.test/service/b
#   mint-cert.sh make-ca "$D/rogue"
#   mint-cert.sh "$D" rogue-staff --ca-dir "$D/rogue" \
#       --uri spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari
#
# Keys: ECDSA P-256, PKCS#8 PEM. Files are created with umask 077.
set -euo pipefail
umask 077

die() { echo "mint-cert.sh: $*" >&2; exit 2; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Escapes a value for an OpenSSL config file (\, $, #, quotes).
conf_escape() { printf '%s' "$1" | sed -e 's/[\\$#"'"'"']/\\&/g'; }

readonly MAX_DAYS=825

new_key() {  # new_key FILE
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out "$1"
  chmod 600 "$1"
}

check_days() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || (( $1 < 1 || $1 > MAX_DAYS )); then
    die "--days must be 1..$MAX_DAYS, got '$1'"
  fi
}

make_ca() {
  local cadir="" cn="Budstikke development CA" days=$MAX_DAYS
  [[ $# -ge 1 ]] || die "make-ca needs CADIR"
  cadir=$1; shift
  while [[ $# -gt 0 ]]; do
    case $1 in
      --cn) [[ $# -ge 2 ]] || die "--cn needs a value"; cn=$2; shift 2 ;;
      --days) [[ $# -ge 2 ]] || die "--days needs a value"; check_days "$2"; days=$2; shift 2 ;;
      *) die "unknown option for make-ca: $1" ;;
    esac
  done
  mkdir -p "$cadir"
  [[ -e "$cadir/ca.pem" ]] && return 0
  local tmp=$TMP
  cat >"$tmp/ext.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = $(conf_escape "$cn")
O = Budstikke development
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  new_key "$cadir/ca.key"
  openssl req -new -x509 -key "$cadir/ca.key" -config "$tmp/ext.cnf" \
    -extensions ca_ext -days "$days" -sha256 \
    -set_serial "0x$(openssl rand -hex 16)" -out "$cadir/ca.pem.tmp"
  chmod 644 "$cadir/ca.pem.tmp"
  mv "$cadir/ca.pem.tmp" "$cadir/ca.pem"
}

mint() {
  [[ $# -ge 2 ]] || die "usage: mint-cert.sh DIR NAME [options] (see the top of the script)"
  local dir=$1 name=$2; shift 2
  [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || die "bad NAME '$name'"
  local cadir=$dir server=0 days=$MAX_DAYS cn=$name
  local -a sans=()
  while [[ $# -gt 0 ]]; do
    case $1 in
      --uri) [[ $# -ge 2 ]] || die "--uri needs a value"; sans+=("URI:$2"); shift 2 ;;
      --dns) [[ $# -ge 2 ]] || die "--dns needs a value"; sans+=("DNS:$2"); shift 2 ;;
      --ip) [[ $# -ge 2 ]] || die "--ip needs a value"; sans+=("IP:$2"); shift 2 ;;
      --ca-dir) [[ $# -ge 2 ]] || die "--ca-dir needs a value"; cadir=$2; shift 2 ;;
      --server) server=1; shift ;;
      --service) server=2; shift ;;
      --days) [[ $# -ge 2 ]] || die "--days needs a value"; check_days "$2"; days=$2; shift 2 ;;
      --cn) [[ $# -ge 2 ]] || die "--cn needs a value"; cn=$2; shift 2 ;;
      *) die "unknown option: $1" ;;
    esac
  done
  [[ -f "$cadir/ca.pem" && -f "$cadir/ca.key" ]] ||
    die "no CA in '$cadir' (run: mint-cert.sh make-ca '$cadir')"
  mkdir -p "$dir"

  local tmp=$TMP
  local eku=clientAuth
  (( server == 1 )) && eku=serverAuth
  (( server == 2 )) && eku=serverAuth,clientAuth
  {
    echo "[req]"
    echo "distinguished_name = dn"
    echo "prompt = no"
    echo "[dn]"
    echo "CN = $(conf_escape "$cn")"
    echo "O = Budstikke development"
    echo "[leaf_ext]"
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = $eku"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid"
    if (( ${#sans[@]} > 0 )); then
      echo "subjectAltName = @san"
      echo "[san]"
      local i=0 s
      for s in "${sans[@]}"; do
        # "URI:x" -> "URI.N = x"
        echo "${s%%:*}.$i = $(conf_escape "${s#*:}")"
        i=$((i + 1))
      done
    fi
  } >"$tmp/ext.cnf"

  new_key "$tmp/key.pem"
  openssl req -new -key "$tmp/key.pem" -config "$tmp/ext.cnf" -out "$tmp/req.csr"
  openssl x509 -req -in "$tmp/req.csr" -CA "$cadir/ca.pem" -CAkey "$cadir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
    -extfile "$tmp/ext.cnf" -extensions leaf_ext -out "$tmp/cert.pem" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; die "signing $name failed"; }
  chmod 644 "$tmp/cert.pem"
  mv "$tmp/key.pem" "$dir/$name.key"
  mv "$tmp/cert.pem" "$dir/$name.pem"
}

[[ $# -ge 1 ]] || die "usage: see the top of the script"
if [[ $1 == make-ca ]]; then
  shift
  make_ca "$@"
else
  mint "$@"
fi
