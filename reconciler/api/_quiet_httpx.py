"""Import httpx without its command-line interface.

``import httpx`` also imports ``httpx._main`` (its own CLI) whenever click, rich
and pygments are installed -- and they are, for our CLI. We never call it, and
it is about a fifth of the start-up of every command that talks to the API.
The module is hidden only while httpx itself is imported, so an explicit
``import httpx._main`` elsewhere still works.
"""

import sys

if "httpx" not in sys.modules:
    _hidden = "httpx._main" not in sys.modules
    if _hidden:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]  # makes its import fail
    try:
        import httpx  # noqa: F401
    finally:
        if _hidden:
            del sys.modules["httpx._main"]
