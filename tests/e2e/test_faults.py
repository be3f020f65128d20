"""Apply through an API that fails 30% of requests (429, 503 before; 500, dropped after).

Rerunning apply while it exits non-zero must converge with no duplicate and no
lost model: a create whose answer was lost is retried, answered 409, and
adopted (the executor's rule), and a run that gave up leaves intents the next
run resolves. On the file backend and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.convergence import apply_until_done, assert_converged, write_ten_models
from tests.e2e.workspace import Workspace
from tests.support.postgres import PostgresServer, serve_postgres
from tests.support.servers import ServedEmulator, serve_emulator

MAX_RUNS = 12


@pytest.fixture
def faulty_emulator() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", "--fault-rate", "0.3", "--seed", "5") as server:
        yield server


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    yield from serve_postgres()


@pytest.fixture(params=["file", pytest.param("postgres", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest) -> str:
    """'' for the default state file, or a PostgreSQL URI."""
    if request.param == "file":
        return ""
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.unique_uri()


def test_apply_converges_through_injected_faults(
    tmp_path: Path, faulty_emulator: ServedEmulator, state: str
) -> None:
    ws = Workspace(root=tmp_path, emulator=faulty_emulator, state=state)
    write_ten_models(ws)

    codes = apply_until_done(ws, max_runs=MAX_RUNS)
    requests = ws.stats()["requests"]
    faulty_emulator.configure(faultRate=0.0)  # check the result over a quiet API

    assert codes[-1] == 0, (tmp_path / f"apply-{len(codes) - 1}.log").read_text()
    # Faults really hit the creates: more POSTs were sent than models were made.
    assert requests["POST /v1beta/tunedModels"] > 10
    assert_converged(ws)
