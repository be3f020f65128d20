"""SIGKILL ``reconciler apply`` on Vertex AI at random moments: no job lost, none made twice.

Ten Vertex AI models against an emulator with 80 ms latency, so kills land
while datasets are stored, between a job's create request and its recorded
answer, and while the state is written. Each round starts from nothing, kills
several runs, then applies until a run exits 0 and checks the result
(``vertex_convergence``); rounds repeat until at least 20 runs were killed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.convergence import crash_rounds
from tests.e2e.vertex_convergence import VERTEX
from tests.e2e.vertex_workspace import VertexWorkspace
from tests.e2e.workspace import Workspace
from tests.support.servers import ServedEmulator, serve_emulator

MIN_KILLS = 20
KILLS_PER_ROUND = 8


@pytest.fixture
def slow_emulator() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", "--latency-ms", "80", "--seed", "13") as server:
        yield server


def test_killed_vertex_applies_converge_with_one_job_per_model(
    tmp_path: Path, slow_emulator: ServedEmulator
) -> None:
    def workspace(round_: int) -> Workspace:
        return VertexWorkspace(root=tmp_path / f"round-{round_}", emulator=slow_emulator)

    log, rounds = crash_rounds(
        emulator=slow_emulator,
        make_workspace=workspace,
        seed=20261130,
        min_kills=MIN_KILLS,
        kills_per_round=KILLS_PER_ROUND,
        driver=VERTEX,
    )

    print(
        f"{log.kills} kills, {rounds} rounds, {log.completed_runs} completed runs, "
        f"{log.lost_answers} created jobs whose answer a kill lost"
    )
    assert log.kills >= MIN_KILLS
    assert min(log.delays_ms) < 100 < max(log.delays_ms)
    # Kills landed between a job's create request and its recorded answer, and the
    # next runs adopted those jobs (the checks above found no second job).
    assert log.lost_answers >= 1
