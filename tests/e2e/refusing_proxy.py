"""A pass-through HTTP proxy in front of the emulator that refuses, stalls or delays answers.

The emulator's ``faultRate`` hits every request, so with it at 1 an apply fails
at its first list request and never reaches a PATCH. To see what a user sees
when only the PATCH keeps failing, the CLI talks to this proxy instead: every
request is forwarded unchanged, except that the refused method always gets the
API's 403 PERMISSION_DENIED answer. (A retryable 429/503 would behave the same
once the client's retries are spent, but those take tens of seconds of backoff.)
A delaying proxy holds the answers to some requests for a while after they
were carried out: a client killed meanwhile has lost them.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

REFUSAL = {
    "error": {
        "code": 403,
        "message": "The caller does not have permission",
        "status": "PERMISSION_DENIED",
    }
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@contextmanager
def refusing_proxy(upstream: str, *, refuse: str) -> Iterator[str]:
    """Serve on a free loopback port until the block ends; yields the proxy's URL."""
    with _proxy(upstream, refuse=refuse, stall=None, forwarded=threading.Event()) as url:
        yield url


@dataclass
class StallingProxy:
    url: str
    forwarded: threading.Event  # set once a stalled request was carried out upstream
    release: threading.Event  # set it to deliver the withheld answers


@contextmanager
def stalling_proxy(upstream: str, *, stall: str) -> Iterator[StallingProxy]:
    """Forwards everything, but withholds the answer to ``stall`` requests until
    ``release`` is set (or the block ends): a client killed meanwhile has had its
    request carried out, unanswered."""
    forwarded, release = threading.Event(), threading.Event()
    with _proxy(upstream, refuse=None, stall=stall, forwarded=forwarded, stop=release) as url:
        yield StallingProxy(url=url, forwarded=forwarded, release=release)


class _QuietServer(ThreadingHTTPServer):
    """A client killed mid-request resets its connection: expected here, not worth a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def delaying_proxy(upstream: str, *, delay: Callable[[str, str], float]) -> Iterator[str]:
    """Forwards everything; the answer to a request is held ``delay(method, path)``
    seconds after the upstream made it. Yields the proxy's URL."""
    with _proxy(upstream, refuse=None, stall=None, forwarded=threading.Event(), delay=delay) as url:
        yield url


@contextmanager
def _proxy(
    upstream: str,
    *,
    refuse: str | None,
    stall: str | None,
    forwarded: threading.Event,
    stop: threading.Event | None = None,
    delay: Callable[[str, str], float] | None = None,
) -> Iterator[str]:
    client = httpx.Client(base_url=upstream, timeout=30)
    stop = stop or threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            try:
                body = self.rfile.read(length) if length else b""
            except OSError:
                body = b""
            if len(body) != length:
                # The client died while sending: a server never carries out half a request.
                self.close_connection = True
                return
            if self.command == refuse:
                self._send(403, json.dumps(REFUSAL).encode(), {"content-type": "application/json"})
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            answer = client.request(self.command, self.path, content=body, headers=headers)
            if self.command == stall:
                forwarded.set()
                stop.wait()
            if delay is not None:
                time.sleep(delay(self.command, self.path))
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            kept.pop("content-encoding", None)
            with contextlib.suppress(OSError):  # the client may be gone (killed meanwhile)
                self._send(answer.status_code, answer.content, kept)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        client.close()
