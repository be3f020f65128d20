"""Optional dependencies, installed as extras: a clear error naming the extra when one is missing.

    pip install 'reconciler[postgres]'   # psycopg: state in PostgreSQL
    pip install 'reconciler[plot]'       # matplotlib: `show --plot`
    pip install 'reconciler[emulator]'   # starlette + uvicorn: `reconciler emulator serve`

A CI job that only validates, plans and applies against the real API with a
state file needs none of them (they are most of the install's size).
``make install`` installs them all.
"""

from __future__ import annotations

import importlib.util

from reconciler.errors import UsageError

# extra -> (the modules it provides, what needs them)
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "postgres": (("psycopg",), "state in PostgreSQL"),
    "plot": (("matplotlib",), "plotting the loss curve"),
    "emulator": (("starlette", "uvicorn"), "the local API emulator"),
}


def require(extra: str) -> None:
    """UsageError naming ``extra`` unless every module it provides can be imported."""
    modules, purpose = EXTRAS[extra]
    missing = [m for m in modules if not _importable(m)]
    if missing:
        raise UsageError(
            f"{purpose} needs {', '.join(missing)}, which is not installed",
            hint=f"pip install 'reconciler[{extra}]'",
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install, or blocked in sys.modules
        return False
