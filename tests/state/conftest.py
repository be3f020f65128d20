"""Fixtures for the state tests: a PostgreSQL server per session, holder processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.postgres import (
    PostgresServer,
    serve_postgres,
)
from tests.support.servers import REPO_ROOT


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    yield from serve_postgres()


@pytest.fixture
def pg_uri(pg_server: PostgresServer) -> str:
    """A state URI on a schema of its own, so tests never see each other's state."""
    return pg_server.unique_uri()


@dataclass
class Holder:
    """A writer process holding (or trying for) the state lock; see tests/state/holder.py."""

    process: subprocess.Popen[str]
    first: dict[str, Any]

    @property
    def lock_id(self) -> str:
        return str(self.first["locked"])

    def send(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, f"holder exited with {self.process.wait(timeout=10)}"
        data: dict[str, Any] = json.loads(answer)
        return data

    def finish(self) -> int:
        assert self.process.stdin is not None
        if self.process.poll() is None:
            self.process.stdin.write("exit\n")
            self.process.stdin.close()
        return self.process.wait(timeout=30)


@pytest.fixture
def start_holder() -> Iterator[Any]:
    """Start holder processes; every one is killed at the end of the test."""
    started: list[subprocess.Popen[str]] = []

    def start(location: str, command: str = "apply", timeout: float = 0.0) -> Holder:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.state.holder", location, command, str(timeout)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"holder exited with {proc.wait(timeout=10)}"
        return Holder(process=proc, first=json.loads(line))

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def pgb() -> Iterator[Any]:
    """Make PostgresBackend instances that are all closed when the test ends."""
    from reconciler.state.postgres import PostgresBackend

    made: list[PostgresBackend] = []

    def make(uri: str, **kwargs: Any) -> PostgresBackend:
        backend = PostgresBackend(uri, **kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()
