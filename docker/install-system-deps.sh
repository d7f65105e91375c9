#!/usr/bin/env bash
# Install the Debian packages sdi needs, and only those that are missing, so that a second run is instant.
# Used by `make setup` and by docker/Dockerfile. Runs apt-get through sudo when not root.
#   usage: docker/install-system-deps.sh [extra-package ...]
set -euo pipefail

sudo_=""
if [ "$(id -u)" -ne 0 ]; then sudo_="sudo"; fi

if ! command -v dpkg-query >/dev/null; then
  echo "sdi setup: this is not a Debian/Ubuntu system; install PostgreSQL with PostGIS 3 yourself" >&2
  echo "           and set SDI_PG_BIN to its bin folder, or SDI_DATABASE_URL to an existing PostGIS." >&2
  exit 1
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
updated=""
apt_update() { if [ -z "$updated" ]; then $sudo_ apt-get update -qq; updated=1; fi; }

# The PostgreSQL major version: the newest server already installed, else the distribution's default.
pg_major="${PG_MAJOR:-}"
if [ -z "$pg_major" ]; then
  pg_major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1 || true)
fi
if [ -z "$pg_major" ]; then
  apt_update
  pg_major=$(apt-cache depends postgresql 2>/dev/null | grep -o 'postgresql-[0-9]\+' | head -n 1 | cut -d- -f2)
fi
[ -n "$pg_major" ] || { echo "sdi setup: cannot tell which PostgreSQL version to install; set PG_MAJOR" >&2; exit 1; }

# pgRouting: the walking network of the accessibility standards (sdi analysis, issue 21).
wanted=("postgresql-$pg_major" "postgresql-$pg_major-postgis-3" "postgresql-$pg_major-pgrouting" "$@")
# Debian's own python3 needs python3-venv for `python3 -m venv`; a pyenv or conda Python has it built in.
if ! python3 -c "import ensurepip, venv" 2>/dev/null; then wanted+=(python3-venv); fi

missing=()
for p in "${wanted[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

echo "sdi setup: installing Debian packages: ${missing[*]}"
apt_update
DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a system-wide cluster on install; sdi runs its own and does not need that one.
# Likewise nginx: `sdi serve` runs its own, with its configuration under $SDI_HOME, so the system
# service that the package just started (on port 80) is stopped and disabled again.
if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  $sudo_ systemctl disable --now nginx >/dev/null 2>&1 || true
fi
echo "sdi setup: installed ${missing[*]}"
