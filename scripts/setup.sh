#!/usr/bin/env bash
# Installs everything the project needs, idempotently, caching slow pieces outside the repo:
#   system packages (apt, when root; otherwise prints the command), the Python virtualenv
#   (cached by a hash of pyproject.toml, linked as .venv), and the pinned livekit-server binary.
# Usage: scripts/setup.sh [run|test|image]   ("test" adds what only the test suite needs;
#   "image" is what deploy/Dockerfile runs: no livekit-server build, which has its own image)
set -euo pipefail

profile="${1:-run}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/live-interpreter"
python="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- system packages ------------------------------------------------------------------------
apt_packages=(ca-certificates espeak-ng coreutils apertium apertium-eng-spa apertium-fr-es apertium-es-pt
  apertium-spa-ita apertium-spa-cat apertium-eng-cat apertium-es-gl apertium-es-ro apertium-fra-cat)
if [ "$profile" != "image" ]; then
  # `up --nodes 2` and the multi-node tests start Redis for the LiveKit nodes themselves
  apt_packages+=(redis-server)
fi
if [ "$profile" = "test" ]; then
  # browser tests drive Debian's Chromium; transcript tests also run against PostgreSQL
  apt_packages+=(chromium postgresql)
fi
command -v npm >/dev/null || apt_packages+=(nodejs npm)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
      apt-get update -q >/dev/null
      apt-get install -y -q --no-install-recommends "${missing[@]}"
    }
  else
    echo "missing system packages: ${missing[*]}" >&2
    echo "run:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# --- Python virtualenv ----------------------------------------------------------------------
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "Python >= 3.11 is required (found $("$python" --version 2>&1)); set PYTHON=..." >&2
  exit 1
}
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
# keyed by the dependency lists only: editing test markers or lint settings needs no new venv
deps="$("$python" - "$root/pyproject.toml" <<'PY'
import json, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(json.dumps([project["dependencies"], project.get("optional-dependencies", {})], sort_keys=True))
PY
)"
key="$( (echo "$deps"; echo "$pyver") | sha256sum | cut -c1-16)"
venv="$cache/venv/py$pyver-$key"
if [ ! -f "$venv/.complete" ]; then
  say "creating the Python environment in $venv (once per dependency set)"
  rm -rf "$venv"
  mkdir -p "$cache/venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  reqs="$(mktemp)"
  "$venv/bin/python" - "$root/pyproject.toml" >"$reqs" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
for dep in project["dependencies"]:
    print(dep)
for extra in project.get("optional-dependencies", {}).values():
    for dep in extra:
        print(dep)
PY
  "$venv/bin/python" -m pip install --progress-bar on -r "$reqs"
  rm -f "$reqs"
  touch "$venv/.complete"
fi
ln -sfn "$venv" "$root/.venv"

# --- web client assets (livekit-client from npm, served by the web app) -----------------------
"$root/scripts/fetch_web_assets.sh" >/dev/null

# --- LiveKit server ---------------------------------------------------------------------------
if [ "$profile" = "image" ]; then
  exit 0
fi
say "checking the LiveKit server binary"
cd "$root"
PYTHONPATH="$root" "$root/.venv/bin/python" -m interpreter server --install-only
