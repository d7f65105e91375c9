#!/usr/bin/env bash
# Vendor the browser libraries that sdi's pages load, at pinned versions, from the npm registry
# (`npm pack`: the published tarball, checked against its integrity hash). Run from anywhere; commit the
# result. Nothing is fetched at run time: the pages work on an intranet with no internet.
#   usage: sdi/server/static/vendor/fetch.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version, folder, then the files kept from its package/ folder: the licence always (leaflet.vectorgrid
# ships none; its package.json names it, WTFPL)
fetch() {
  local spec="$1" dest="$2"; shift 2
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  local tgz; tgz="$(ls "$work"/*.tgz)"
  mkdir -p "$work/x" && tar -xzf "$tgz" -C "$work/x"
  rm -rf "${here:?}/$dest" && mkdir -p "$here/$dest"
  for f in "$@"; do
    mkdir -p "$here/$dest/$(dirname "$f")"
    cp -r "$work/x/package/$f" "$here/$dest/$f"
  done
  echo "$spec" > "$here/$dest/VERSION"
  rm -rf "$work/x" "$tgz"
}

fetch leaflet@1.9.4 leaflet LICENSE dist/leaflet.js dist/leaflet.css dist/images
fetch leaflet.markercluster@1.5.3 leaflet.markercluster MIT-LICENCE.txt dist/leaflet.markercluster.js \
  dist/leaflet.markercluster-src.js dist/MarkerCluster.css dist/MarkerCluster.Default.css
fetch leaflet.vectorgrid@1.3.0 leaflet.vectorgrid package.json dist/Leaflet.VectorGrid.bundled.js
fetch bootstrap@5.3.3 bootstrap LICENSE dist/css/bootstrap.min.css dist/js/bootstrap.bundle.min.js
fetch swagger-ui-dist@5.17.14 swagger-ui LICENSE swagger-ui.css swagger-ui-bundle.js \
  swagger-ui-standalone-preset.js favicon-16x16.png favicon-32x32.png
fetch redoc@2.1.5 redoc LICENSE bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt
echo "vendored into $here"
