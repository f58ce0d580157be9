#!/usr/bin/env bash
# Installs the console and the Python SDK it uses into LIBDIR (the systemd unit and
# the console image use /usr/local/lib/budstikke):
#
#   LIBDIR/console/budstikke-console   the start script (budstikke-console --config FILE)
#   LIBDIR/console/budstikke_console/  the application (templates, static files)
#   LIBDIR/console/assets/             the vendored Designsystemet and htmx files
#   LIBDIR/python/budstikke/           the SDK with its generated gRPC modules (_gen)
#
# The start script finds the SDK at ../python when no budstikke package is installed.
# ASSETS_DIR is what setup-assets.sh wrote (default build/console-assets); its
# axe-core folder (ASSETS_DIR-axe, for the accessibility test) is not installed.
# Needs /usr/bin/python3, /usr/bin/protoc and /usr/bin/grpc_python_plugin (Debian's
# protobuf-compiler and protobuf-compiler-grpc) for clients/python/generate.py.
# Replaces LIBDIR/console and LIBDIR/python; files are root-readable by everyone
# (0644, folders and the start script 0755): the service runs as another user.
# Usage: clients/console/install.sh LIBDIR [ASSETS_DIR]
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LIB="${1:-}"
ASSETS="${2:-$ROOT/build/console-assets}"

case "$LIB" in
  /*) ;;
  *) echo "install.sh: LIBDIR must be an absolute path (usage: install.sh LIBDIR [ASSETS_DIR])" >&2; exit 1 ;;
esac
for f in designsystemet/index.css designsystemet/theme.css htmx/htmx.min.js; do
  [ -f "$ASSETS/$f" ] || { echo "install.sh: $ASSETS/$f missing (run clients/console/setup-assets.sh)" >&2; exit 1; }
done

umask 022
rm -rf "$LIB/console" "$LIB/python"
mkdir -p "$LIB/console" "$LIB/python"
install -m 0755 "$HERE/budstikke-console" "$LIB/console/budstikke-console"
tar -C "$HERE" --exclude=__pycache__ -cf - budstikke_console | tar -C "$LIB/console" --no-same-owner -xf -
mkdir "$LIB/console/assets"
cp -R "$ASSETS/." "$LIB/console/assets/"
tar -C "$ROOT/clients/python" --exclude=__pycache__ --exclude=_gen --exclude='.gen-*' -cf - budstikke \
  | tar -C "$LIB/python" --no-same-owner -xf -
/usr/bin/python3 "$ROOT/clients/python/generate.py" --out "$LIB/python/budstikke/_gen" >/dev/null
chmod -R u=rwX,go=rX "$LIB/console" "$LIB/python"
echo "install.sh: console and SDK in $LIB"
