#!/usr/bin/env bash
# Vendors the console's pinned front-end packages from the npm registry into
# OUT_DIR (default: build/console-assets at the repository root), which the console
# serves under /vendor (never a CDN), and axe-core for the accessibility test into
# OUT_DIR-axe (not served).
# Idempotent: does nothing when OUT_DIR already holds this exact set of versions.
# Usage: clients/console/setup-assets.sh [OUT_DIR]
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$ROOT/build/console-assets}"

# Pinned versions: change them here only.
CSS_PKG="@digdir/designsystemet-css@1.22.0"
THEME_PKG="@digdir/designsystemet-theme@1.11.0"
HTMX_PKG="htmx.org@2.0.11"
AXE_PKG="axe-core@4.14.1"
STAMP="$CSS_PKG $THEME_PKG $HTMX_PKG $AXE_PKG"

if [ -f "$OUT-axe/axe.min.js" ] && [ -f "$OUT/.versions" ] && [ "$(cat "$OUT/.versions")" = "$STAMP" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "setup-assets: npm not found (apt-get install npm)" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "$CSS_PKG" "$THEME_PKG" "$HTMX_PKG" "$AXE_PKG" >/dev/null)
for t in "$TMP"/*.tgz; do
  d="$TMP/$(basename "$t" .tgz)"
  mkdir -p "$d" && tar xzf "$t" -C "$d"
done
rm -rf "$OUT.new" && mkdir -p "$OUT.new/designsystemet" "$OUT.new/htmx" "$OUT-axe"
cp "$TMP"/digdir-designsystemet-css-*/package/dist/src/index.css "$OUT.new/designsystemet/index.css"
cp "$TMP"/digdir-designsystemet-theme-*/package/brand/digdir.css "$OUT.new/designsystemet/theme.css"
cp "$TMP"/digdir-designsystemet-css-*/package/LICENSE "$OUT.new/designsystemet/LICENSE"
cp "$TMP"/htmx.org-*/package/dist/htmx.min.js "$OUT.new/htmx/htmx.min.js"
cp "$TMP"/htmx.org-*/package/LICENSE "$OUT.new/htmx/LICENSE"
cp "$TMP"/axe-core-*/package/axe.min.js "$OUT-axe/axe.min.js"
echo "$STAMP" > "$OUT.new/.versions"
rm -rf "$OUT" && mv "$OUT.new" "$OUT"
echo "setup-assets: $CSS_PKG $THEME_PKG $HTMX_PKG $AXE_PKG in $OUT"
