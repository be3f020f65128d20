"""SIGKILL ``reconciler apply`` on Vertex AI at random moments: no job lost, none made twice.

Ten Vertex AI models against an emulator with 40 ms latency, whose answers to
job creates arrive 0.3 s after the job was made, so kills land while datasets
are stored, between a job's create and its recorded answer, and while the state
is written. Each round starts from nothing, kills several runs, then applies
until a run exits 0 and checks the result (``vertex_convergence``); rounds
repeat until at least 20 runs were killed. A second test kills the apply that
removes the ten models, while their deployments, Endpoints and Models go.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.e2e.convergence import (
    MODELS,
    CrashLog,
    apply_until_done,
    apply_with_kills,
    crash_rounds,
    read_state,
)
from tests.e2e.refusing_proxy import delaying_proxy
from tests.e2e.vertex_convergence import VERTEX, half_removed
from tests.e2e.vertex_workspace import VertexWorkspace
from tests.e2e.workspace import NUMBERS, Workspace, dataset
from tests.support.servers import ServedEmulator, serve_emulator

MIN_KILLS = 20
KILLS_PER_ROUND = 8
DELETE_KILLS = 6
ANSWER_DELAY = 0.3


@pytest.fixture
def slow_emulator() -> Iterator[ServedEmulator]:
    """The emulator (40 ms a request) behind a proxy that holds each job create's answer
    0.3 s after the job was made: a kill then loses the answer of a job that exists."""

    def delay(method: str, path: str) -> float:
        return ANSWER_DELAY if method == "POST" and path.endswith("/tuningJobs") else 0.0

    with (
        serve_emulator("--step-seconds", "0", "--latency-ms", "40", "--seed", "13") as server,
        delaying_proxy(server.url, delay=delay) as url,
    ):
        yield replace(server, url=url)


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
        f"{len(log.half_done)} jobs created whose answer a kill lost"
    )
    assert log.kills >= MIN_KILLS
    assert min(log.delays_ms) < 100 < max(log.delays_ms)
    # Kills landed between a job's create request and its recorded answer, and the
    # next runs adopted those jobs (the checks above found no second job).
    assert log.half_done


def test_killed_vertex_deletes_remove_every_model_and_endpoint(
    tmp_path: Path, slow_emulator: ServedEmulator
) -> None:
    ws = VertexWorkspace(root=tmp_path, emulator=slow_emulator)
    VERTEX.write_models(ws)
    assert apply_until_done(ws, max_runs=1) == [0]
    made = ws.jobs()
    # Each removal step (undeploy, delete the Endpoint, delete the Model) is an
    # Operation that takes a while, so kills leave models half removed.
    slow_emulator.configure(operationSeconds=0.3)
    ws.write(dataset("numbers", NUMBERS))
    log = CrashLog(find_half_done=half_removed)

    # A whole run takes seconds: kills spread over all three steps of every model.
    apply_with_kills(ws, rng=random.Random(3), kills=DELETE_KILLS, log=log, max_delay=2.5)

    print(
        f"{log.kills} kills while deleting {len(made)} models, "
        f"{len(log.half_done)} models found half removed after them"
    )
    assert log.kills == DELETE_KILLS
    assert log.half_done
    assert read_state(ws)["models"] == {}
    # The jobs stay (the service cannot delete one); what they produced is gone.
    assert [job["name"] for job in ws.jobs()] == [job["name"] for job in made]
    for job in made:
        assert ws.get(job["tunedModel"]["model"].split("@")[0]).status_code == 404, job
        assert ws.get(job["tunedModel"]["endpoint"]).status_code == 404, job
    assert sorted(ws.job_creates().values()) == [1] * len(MODELS)
    final = ws.cli("plan", "--detailed-exitcode")
    assert final.returncode == 0, final.stdout + final.stderr
