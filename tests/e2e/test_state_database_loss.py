"""Losing the PostgreSQL state database in the middle of ``reconciler apply``.

The promise: the run stops with one clear ``Error:`` line (exit 1, no
traceback), and the next run, with the database back, resumes as after a
crash -- every model created exactly once, the state matching live.

Two ways to lose it: the server ends the run's session (``pg_terminate_backend``,
as an administrator or a failover does; the run can reconnect but no longer
holds the lock), and the whole server stops (the run cannot reconnect at all).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.convergence import MODELS, assert_converged, start_apply, write_ten_models
from tests.e2e.workspace import Workspace
from tests.support.postgres import (
    PostgresServer,
    serve_postgres,
)
from tests.support.servers import ServedEmulator, serve_emulator

pytestmark = pytest.mark.postgres

# Enough latency that ten creates at parallelism 2 take a few seconds, so the
# database goes away while intents and operation names are still being written.
LATENCY_MS = "150"


@pytest.fixture
def slow_emulator() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", "--latency-ms", LATENCY_MS, "--seed", "5") as server:
        yield server


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A server of this test's own: one test stops it, and no other run's sessions are on it."""
    yield from serve_postgres()


def terminate_reconciler_sessions(server: PostgresServer) -> int:
    with psycopg.connect(server.uri(), autocommit=True, application_name="state-loss-test") as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'reconciler'"
        ).fetchall()
    return sum(1 for (ended,) in rows if ended)


def stored_models(server: PostgresServer, ws: Workspace) -> int:
    """How many model records the run has stored so far (0 before its first write):
    those in the document and those in the journal rows written since."""
    schema = ws.state.split("schema=")[1].split("&")[0]
    with psycopg.connect(server.uri(), autocommit=True, application_name="state-loss-test") as conn:
        try:
            row = conn.execute(
                f'SELECT document FROM "{schema}".states WHERE workspace = %s', ["default"]
            ).fetchone()
            journal = conn.execute(
                f'SELECT models FROM "{schema}".state_journal WHERE workspace = %s', ["default"]
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            return 0
    names = set(row[0]["models"]) if row else set()
    for (changed,) in journal:
        names |= set(changed)
    return len(names)


def wait_until_mid_run(proc_out: Path, server: PostgresServer, ws: Workspace) -> None:
    """Until the run has recorded some models, but not all ten (it is mid-apply)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if stored_models(server, ws) >= 2:
            return
        time.sleep(0.01)
    raise AssertionError("apply wrote no intents in 60 s:\n" + proc_out.read_text())


def apply_cut_off_mid_run(
    ws: Workspace, out: Path, postgres: PostgresServer, cut_off: Callable[[], object]
) -> tuple[int, str]:
    """Start an apply, run ``cut_off`` once it has recorded models, return (exit code, output)."""
    proc = start_apply(ws, out, "--parallelism", "2")
    try:
        wait_until_mid_run(out, postgres, ws)
        cut_off()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, out.read_text()


def assert_stopped_cleanly(code: int, output: str) -> str:
    """Exit 1, exactly one ``Error:`` line about the state database, no traceback."""
    assert code == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    return errors[0]


def test_terminated_database_session_stops_apply_and_next_run_converges(
    tmp_path: Path, slow_emulator: ServedEmulator, postgres: PostgresServer
) -> None:
    ws = Workspace(root=tmp_path, emulator=slow_emulator, state=postgres.unique_uri())
    write_ten_models(ws)
    terminated: list[int] = []
    code, output = apply_cut_off_mid_run(
        ws,
        tmp_path / "apply.log",
        postgres,
        lambda: terminated.append(terminate_reconciler_sessions(postgres)),
    )
    assert terminated and terminated[0] >= 1, "no reconciler session was ended"

    error = assert_stopped_cleanly(code, output)
    assert "no longer holds the lock" in error or "lost the connection" in error, output
    assert len(ws.creates()) < len(MODELS), "the run finished before its session was ended"

    again = ws.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert_converged(ws)


def test_stopped_database_server_stops_apply_and_next_run_converges(
    tmp_path: Path, slow_emulator: ServedEmulator, postgres: PostgresServer
) -> None:
    ws = Workspace(root=tmp_path, emulator=slow_emulator, state=postgres.unique_uri())
    write_ten_models(ws)
    try:
        code, output = apply_cut_off_mid_run(ws, tmp_path / "apply.log", postgres, postgres.stop)
    finally:
        postgres.start()

    error = assert_stopped_cleanly(code, output)
    # Whichever of the parallel state writes notices first, the user is told the same thing.
    assert error.startswith("Error: lost the connection to the state database postgresql://"), (
        output
    )
    assert "the run stopped; rerun to resume" in error, output
    assert len(ws.creates()) < len(MODELS), "the run finished before the server stopped"

    again = ws.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert_converged(ws)
