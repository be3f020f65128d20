"""Run the emulator under uvicorn on a socket we bind, so ``--port 0`` can report its port."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable

import uvicorn

from reconciler.emulator.app import create_app
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.gateway import ConnectionDropped


class _HideInjectedDrops(logging.Filter):
    """A dropped connection is a requested fault, not a server error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


def _announce(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    announce: Callable[[str], None] = _announce,
) -> None:
    """Serve until interrupted; the access log stays off so no URL (or ``?key=``) is logged."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only then, and without it every
    # keep-alive request waits ~40 ms on Nagle's algorithm and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    logging.getLogger("uvicorn.error").addFilter(_HideInjectedDrops())
    shown = f"[{host}]" if ":" in host else host

    class _AnnouncingServer(uvicorn.Server):
        # Announce only once the socket accepts requests, so a reader of the line can connect.
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                announce(f"Gemini API emulator listening on http://{shown}:{bound_port} (v1beta)")

    app = create_app(config)
    server = _AnnouncingServer(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
