#!/usr/bin/env bash
# Installs the web client's npm packages into the cache, once per pinned version, and copies the
# livekit-client browser build into web/static/vendor/ (generated, not in git):
#   livekit-client  the LiveKit JavaScript SDK the page imports: its ES module build
#                   (dist/livekit-client.esm.mjs, self-contained: no bare imports), served as
#                   vendor/livekit-client.esm.js so no server needs to know the .mjs type
#   playwright-core drives headless Chromium in the browser tests (no browser download: the
#                   tests use the system's /usr/bin/chromium)
# Prints the npm directory on its last line, so callers can find node_modules.
# Usage: scripts/fetch_web_assets.sh
set -euo pipefail

LIVEKIT_CLIENT_VERSION="2.23.0"
PLAYWRIGHT_CORE_VERSION="1.65.1"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
npm_dir="${XDG_CACHE_HOME:-$HOME/.cache}/live-interpreter/npm-$LIVEKIT_CLIENT_VERSION"
stamp="$npm_dir/.complete-$LIVEKIT_CLIENT_VERSION-$PLAYWRIGHT_CORE_VERSION"
vendor="$root/web/static/vendor"

command -v npm >/dev/null || {
  echo "npm is required for the web client (Debian: apt-get install -y npm)" >&2
  exit 1
}

if [ ! -f "$stamp" ]; then
  printf '\033[1m==> %s\033[0m\n' "installing livekit-client $LIVEKIT_CLIENT_VERSION and playwright-core $PLAYWRIGHT_CORE_VERSION into $npm_dir" >&2
  mkdir -p "$npm_dir"
  cat >"$npm_dir/package.json" <<JSON
{
  "name": "live-interpreter-web-assets",
  "private": true,
  "dependencies": {
    "livekit-client": "$LIVEKIT_CLIENT_VERSION",
    "playwright-core": "$PLAYWRIGHT_CORE_VERSION"
  }
}
JSON
  # playwright-core downloads no browser on install; the tests use the system Chromium
  (cd "$npm_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error >&2)
  rm -f "$npm_dir"/.complete-*
  touch "$stamp"
fi

mkdir -p "$vendor"
dist="$npm_dir/node_modules/livekit-client/dist"
if ! cmp -s "$dist/livekit-client.esm.mjs" "$vendor/livekit-client.esm.js"; then
  cp "$dist/livekit-client.esm.mjs" "$vendor/livekit-client.esm.js"
  # its source map, under the name the build's sourceMappingURL comment gives
  cp "$dist/livekit-client.esm.mjs.map" "$vendor/livekit-client.esm.mjs.map"
fi
rm -f "$vendor/livekit-client.umd.js" # the page no longer loads the UMD build
echo "$npm_dir"
