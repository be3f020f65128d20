#!/usr/bin/env bash
# The action's install step: reconciler in its own virtualenv, restored from the
# cache when this version was installed before, and put on the job's PATH.
set -euo pipefail

venv="${RECONCILER_VENV:?}"
if [ -x "$venv/bin/reconciler" ]; then
  echo "reconciler restored from the cache: $("$venv/bin/reconciler" --version)"
else
  # Default: this action's own checkout, so the pinned commit is what runs.
  spec="${INPUT_PACKAGE:-}"
  if [ -z "$spec" ]; then
    spec="$RECONCILER_ACTION_PATH"
    [ -n "${INPUT_EXTRAS:-}" ] && spec="$spec[$INPUT_EXTRAS]"
  fi
  python -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$spec"
  echo "installed $("$venv/bin/reconciler" --version)"
fi
echo "$venv/bin" >> "$GITHUB_PATH"
