"""A total deadline for each request, and a word on stderr when one is slow.

httpx's timeouts bound each socket operation (connect, one read, one write),
not a whole request: a server that trickles a byte every few seconds never
trips a 60 s read timeout and keeps a command waiting for ever. Here every
socket operation of an attempt is bounded by what is left of the request's
deadline (``deadline_transport`` wraps httpcore's network backend; the
deadline of the request running on the current thread is set with
``request_deadline``). Past it, the operation fails as an httpcore timeout,
which the session sees as an ordinary timeout and does not retry.

``SlowWatch`` says what is being waited on when a request takes long, from one
watcher thread for the whole client (no thread per request).
"""

from __future__ import annotations

import heapq
import itertools
import math
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

_current = threading.local()


@contextmanager
def request_deadline(deadline: float) -> Iterator[None]:
    """Socket operations on this thread end by ``deadline`` (``time.monotonic()`` seconds)."""
    previous = getattr(_current, "deadline", None)
    _current.deadline = deadline
    try:
        yield
    finally:
        _current.deadline = previous


def _bounded(timeout: float | None, *, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of this thread's deadline; ``error`` when none is."""
    deadline: float | None = getattr(_current, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's total deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, error=httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, error=httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, error=httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, error=httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, error=httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def deadline_transport(
    *, verify: bool, limits: httpx.Limits, trust_env: bool
) -> httpx.HTTPTransport:
    """httpx's own transport, its socket operations bounded by ``request_deadline``.

    httpx does not let a caller choose httpcore's network backend, so the pool
    it built gets ours wrapped around its own (``test_deadline`` proves it
    still takes effect should httpx's internals move).
    """
    transport = httpx.HTTPTransport(verify=verify, limits=limits, trust_env=trust_env)
    pool = transport._pool
    pool._network_backend = _DeadlineBackend(pool._network_backend)
    return transport


class SlowWatch:
    """Calls ``notice`` when a watched request is still waiting after ``after`` seconds.

    ``watch(what)`` around a request; ``what`` says what is waited on. The
    notice repeats every ``every`` seconds while the request goes on.
    """

    def __init__(
        self, *, notice: Callable[[str], None], after: float, every: float, limit: float
    ) -> None:
        self._notice = notice
        self._after = after
        self._every = every
        self._limit = limit
        self._due: list[tuple[float, int, str, float]] = []  # (due, id, what, started)
        self._live: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, what: str) -> Iterator[None]:
        token = next(self._ids)
        started = time.monotonic()
        with self._wake:
            self._live.add(token)
            heapq.heappush(self._due, (started + self._after, token, what, started))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="slow-watch", daemon=True)
                self._thread.start()
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._live.discard(token)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][1] not in self._live:
                    heapq.heappop(self._due)  # finished before it was due
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is None or wait > 0:
                    self._wake.wait(wait)
                    continue
                _, token, what, started = heapq.heappop(self._due)
                now = time.monotonic()
                heapq.heappush(self._due, (now + self._every, token, what, started))
            self._notice(
                f"Still waiting for {what}: no complete answer after {math.floor(now - started)} s "
                f"(gives up after {_seconds(self._limit)}; --request-timeout)"
            )


def _seconds(value: float) -> str:
    return f"{value:g} s"
