#!/usr/bin/env bash
# Installs the system packages the test suite needs, only those missing, and
# only when running as root (otherwise it names them and leaves them to you).
# Used by `make test` and by .ci/run, so a fresh machine needs nothing by hand:
#   python3 with venv   the project's virtualenv
#   postgresql          the shared-state tests start their own server in a temp dir
#   chromium            the HTML report test renders the report headless
# Exit status: 0 when everything is there (or was installed), 1 otherwise.
set -uo pipefail

missing=()
command -v python3 >/dev/null || missing+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
  && ! command -v google-chrome >/dev/null; then
  missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them (e.g. sudo apt-get install ${missing[*]}), see 'System prerequisites' in README.md" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "could not install: ${missing[*]}" >&2
  exit 1
fi
