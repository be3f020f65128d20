"""Apply ten Vertex AI models through an API that fails 30% of requests.

429 and 503 arrive before a change, 500 and dropped connections after it, on
tuning jobs and Cloud Storage alike. Rerunning apply while it exits non-zero
must end with one job per model: a create whose answer was lost is found by
its key label and adopted, never sent twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.convergence import apply_until_done
from tests.e2e.vertex_convergence import VERTEX
from tests.e2e.vertex_workspace import VertexWorkspace
from tests.support.servers import ServedEmulator, serve_emulator

MAX_RUNS = 12


@pytest.fixture
def faulty_emulator() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", "--seed", "5") as server:
        server.configure(faultRate=0.3)
        yield server


def test_vertex_apply_converges_through_injected_faults(
    tmp_path: Path, faulty_emulator: ServedEmulator
) -> None:
    ws = VertexWorkspace(root=tmp_path, emulator=faulty_emulator)
    VERTEX.write_models(ws)

    codes = apply_until_done(ws, max_runs=MAX_RUNS)
    requests = ws.stats()["requests"]
    faults = ws.stats()["faults"]
    faulty_emulator.configure(faultRate=0.0)  # check the result over a quiet API

    print(f"exit codes {codes}, {requests.get(VERTEX.create_route)} job creates sent")
    assert codes[-1] == 0, (tmp_path / f"apply-{len(codes) - 1}.log").read_text()
    # Faults really hit the run (whether one hits a create in particular depends
    # on how the threads interleave).
    assert isinstance(faults, dict) and sum(faults.values()) > 5, faults
    # Retries are said as they happen, as on the Gemini API.
    logs = "".join((tmp_path / f"apply-{run}.log").read_text() for run in range(len(codes)))
    assert "Retrying GET /v1/projects/" in logs
    assert requests[VERTEX.create_route] >= 10
    VERTEX.check_converged(ws)
