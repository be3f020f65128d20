"""An emulator app served over real HTTP from a thread, so a test can hold its clock.

The subprocess server (``servers.serve_emulator``) runs on the wall clock; this
one runs ``create_app(clock=...)`` in the test's process, so a test moves
tuning time forward by setting the clock, never by sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from tests.support.servers import free_port


@contextmanager
def serve_in_thread(app: Starlette, *, startup_timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name=f"emulator-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the emulator thread stopped before it was ready")
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not become ready")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
