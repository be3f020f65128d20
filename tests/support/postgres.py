"""A throwaway PostgreSQL server for tests: socket-only, in a temporary directory, always stopped.

    with postgres_server() as pg:
        uri = pg.uri(schema="t1", workspace="default")   # postgresql:///postgres?host=...&port=...

``initdb`` refuses to run as root, so as root the cluster is made and run by
the ``postgres`` user. The server listens on a Unix socket in its own
directory only (no TCP), so parallel test runs never collide. It is stopped
with ``pg_ctl stop -m immediate`` however the block ends.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from tests.support.servers import free_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (tests using them should skip)."""


def find_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres live, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    return None


@dataclass
class PostgresServer:
    socket_dir: Path
    port: int
    bindir: Path
    data_dir: Path | None = None
    options: str = ""

    def stop(self) -> None:
        """Stop the server at once (``-m immediate``): every client connection drops."""
        assert self.data_dir is not None
        subprocess.run(
            _as_owner(
                [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "stop", "-m", "immediate"]
            ),
            check=True,
            capture_output=True,
        )

    def start(self, *, timeout: int = 60) -> None:
        """Start a stopped server again on the same socket, port and data."""
        assert self.data_dir is not None
        log = self.socket_dir / "server.log"
        subprocess.run(
            _as_owner(
                [
                    *[str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-o", self.options],
                    *["-l", str(log), "-w", "-t", str(timeout), "start"],
                ]
            ),
            check=True,
            capture_output=True,
        )

    def uri(
        self, *, schema: str | None = None, workspace: str | None = None, dbname: str = "postgres"
    ) -> str:
        params = {"host": str(self.socket_dir), "port": str(self.port), "user": "postgres"}
        if schema:
            params["schema"] = schema
        if workspace:
            params["workspace"] = workspace
        return f"postgresql:///{dbname}?{urlencode(params)}"

    def unique_uri(self, *, workspace: str | None = None) -> str:
        """A URI on a schema no other test uses."""
        return self.uri(schema=f"t_{uuid.uuid4().hex[:12]}", workspace=workspace)


def _as_owner(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def postgres_server(*, startup_timeout: int = 60) -> Iterator[PostgresServer]:
    """Start a fresh PostgreSQL cluster for the duration of the block."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) found")
    root = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
    data = root / "data"
    log = root / "server.log"
    port = free_port()
    started = False
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        subprocess.run(
            _as_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = f"-k {root} -c listen_addresses='' -p {port} -c fsync=off -c full_page_writes=off"
        result = subprocess.run(
            _as_owner(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(startup_timeout),
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
        )
        started = True
        if result.returncode != 0:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{text}")
        yield PostgresServer(
            socket_dir=root, port=port, bindir=bindir, data_dir=data, options=options
        )
    finally:
        if started:
            subprocess.run(
                _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "stop", "-m", "immediate"]),
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)


def unavailable(reason: str) -> None:
    """Skip a PostgreSQL test only where no server can be installed; fail it elsewhere.

    ``make test`` and ``.ci/run`` install PostgreSQL first (scripts/system-deps.sh),
    so on CI, or as root (who can install it), a missing server is a broken setup,
    never a reason to pass without running the tests. Only a user who cannot
    install packages gets a skip, which pytest's summary (``-ra``) shows.
    """
    import os

    import pytest

    message = f"PostgreSQL tests need a PostgreSQL server installation: {reason}"
    if os.environ.get("CI") or os.geteuid() == 0:
        pytest.fail(message + " (bash scripts/system-deps.sh installs it)")
    pytest.skip(message)


def serve_postgres() -> Iterator[PostgresServer]:
    """A fresh server for a fixture to yield; no installation skips (fails on CI)."""
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailable as exc:
        unavailable(str(exc))
