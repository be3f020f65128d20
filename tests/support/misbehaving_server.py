"""A tiny HTTP server on a free loopback port that misbehaves on purpose.

Modes:

* ``silent``  -- reads the request and never answers;
* ``trickle`` -- starts an answer and sends one more header byte every 50 ms, for ever;
* ``flaky``   -- answers the first request 503, then every other one with an empty
  tuned-model list;
* ``echo-reason``, ``echo-status-line``, ``echo-header`` -- echo the request's
  ``x-goog-api-key`` in a 400's reason phrase, in a malformed status line, or in
  a malformed header line (as a broken proxy might).

It records, for every request it reads, whether ``watched`` (a path, e.g. the
state lock file) existed at that moment. Stopped (every connection closed) when
the ``with`` block ends, even on failure.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_EMPTY_LIST = b'{"tunedModels": []}'


@dataclass
class MisbehavingServer:
    mode: str
    watched: Path | None = None
    url: str = ""
    # For each request read: whether ``watched`` existed then.
    watched_existed: list[bool] = field(default_factory=list)
    requests: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_requests(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.requests < count:
            assert time.monotonic() < deadline, f"{self.requests} of {count} requests arrived"
            time.sleep(0.01)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            data = b""
            while b"\r\n\r\n" not in data and not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                data += chunk
            with self._lock:
                self.watched_existed.append(self.watched is not None and self.watched.exists())
                self.requests += 1
                number = self.requests
            key = _header(data, b"x-goog-api-key")
            echoes = {
                "echo-reason": b"HTTP/1.1 400 " + key + b"\r\n",
                "echo-status-line": b"HTTP/1.1 4x0 " + key + b"\r\n",
                "echo-header": b"HTTP/1.1 400 Bad Request\r\n" + key + b"\r\n",
            }
            try:
                if self.mode in echoes:
                    conn.sendall(
                        echoes[self.mode] + b"connection: close\r\ncontent-length: 2\r\n\r\nno"
                    )
                elif self.mode == "trickle":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while not self._stop.wait(0.05):
                        conn.sendall(b"a")
                elif self.mode == "flaky":
                    status = b"503 Service Unavailable" if number == 1 else b"200 OK"
                    body = b"" if number == 1 else _EMPTY_LIST
                    conn.sendall(
                        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
                        b"connection: close\r\ncontent-length: "
                        + str(len(body)).encode()
                        + b"\r\n\r\n"
                        + body
                    )
                else:
                    self._stop.wait()
            except OSError:
                return  # the client gave up and closed the connection


def _header(request: bytes, name: bytes) -> bytes:
    for line in request.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return b""


@contextmanager
def misbehaving_server(mode: str, *, watched: Path | None = None) -> Iterator[MisbehavingServer]:
    server = MisbehavingServer(mode=mode, watched=watched)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    server.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    threads: list[threading.Thread] = []

    def accept() -> None:
        while not server._stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=server._serve, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        server._stop.set()
        acceptor.join(timeout=10)
        for thread in threads:
            thread.join(timeout=10)
        listener.close()
