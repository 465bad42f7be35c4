#!/bin/sh
# Vendors uPlot (https://github.com/leeoniya/uPlot, MIT) into the embedded
# static files at a pinned version, with its licence: the dashboard's charts
# load nothing from a CDN or the network at run time. Run it to upgrade:
# change VERSION, run, commit ui/static/vendor/uplot.
set -eu
VERSION=1.6.32
DEST="$(cd "$(dirname "$0")/.." && pwd)/ui/static/vendor/uplot"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
npm pack --silent "uplot@$VERSION" >/dev/null
tar xzf "uplot-$VERSION.tgz"
mkdir -p "$DEST"
cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE "$DEST/"
echo "$VERSION" > "$DEST/VERSION"
echo "uPlot $VERSION vendored into $DEST"
