"""The control surface on the Vertex AI and Cloud Storage routes: stats per key, faults, latency, clock."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.cloud import BUCKET, JOBS, Served, job_body


def _stats(served: Served) -> dict[str, object]:
    data = served.http.get("/emulator/stats").json()
    assert isinstance(data, dict)
    return data


def test_job_creates_are_counted_per_idempotency_key(trained: Served) -> None:
    trained.create_job(labels={"reconciler-key": "greeter-1"})
    trained.create_job(labels={"reconciler-key": "greeter-1", "team": "a"})
    trained.create_job(labels={"reconciler-key": "other-2"})
    trained.create_job(labels={"team": "no-key"})
    # A refused create makes no job and counts nothing.
    refused = trained.http.post(
        JOBS, json=job_body(base_model="gemini-0", labels={"reconciler-key": "bad"})
    )
    assert refused.status_code == 400
    stats = _stats(trained)
    assert stats["jobCreates"] == {"greeter-1": 2, "other-2": 1}
    assert trained.http.post("/emulator/reset").status_code == 200
    assert _stats(trained)["jobCreates"] == {}


def test_a_create_whose_answer_a_fault_lost_still_counts(trained: Served) -> None:
    trained.emulator.config.fault_rate = 1.0
    outcomes: list[str] = []
    for i in range(40):  # faults come from a seeded stream; some land after the create
        try:
            reply = trained.http.post(JOBS, json=job_body(labels={"reconciler-key": f"k{i}"}))
            outcomes.append(str(reply.status_code))
        except httpx.HTTPError:
            outcomes.append("drop")
    trained.emulator.config.fault_rate = 0.0
    assert {"429", "503"} & set(outcomes) and {"500", "drop"} & set(outcomes)
    made = {f"k{i}": 1 for i, outcome in enumerate(outcomes) if outcome in ("500", "drop")}
    assert _stats(trained)["jobCreates"] == made


@pytest.mark.parametrize(
    "path",
    [
        JOBS,
        f"/storage/v1/b/{BUCKET}/o",
        f"/v1/projects/p/locations/us-central1/models/{'1' * 19}",
    ],
)
def test_fault_rate_applies_to_cloud_routes(served: Served, path: str) -> None:
    served.http.put("/emulator/config", json={"faultRate": 1.0})
    seen: set[str] = set()
    for _ in range(30):
        try:
            seen.add(str(served.http.get(path).status_code))
        except httpx.HTTPError:
            seen.add("drop")
    served.http.put("/emulator/config", json={"faultRate": 0.0})
    assert seen == {"429", "503", "500", "drop"}
    assert served.http.get(path).status_code in (200, 404)


def test_latency_applies_to_cloud_routes(served: Served) -> None:
    served.http.put("/emulator/config", json={"latencyMs": 300})
    try:
        for path in (JOBS, f"/storage/v1/b/{BUCKET}/o"):
            started = time.monotonic()
            assert served.http.get(path).status_code == 200
            # A lower bound only: the delay is there (never an upper bound on speed).
            assert time.monotonic() - started >= 0.3
    finally:
        served.http.put("/emulator/config", json={"latencyMs": 0})


def test_the_clock_control_moves_tuning_jobs(trained: Served) -> None:
    job = trained.create_job()
    assert trained.http.get(f"/v1/{job['name']}").json()["state"] == "JOB_STATE_PENDING"
    moved = trained.http.post("/emulator/clock", json={"advanceSeconds": 60})
    assert moved.status_code == 200
    done = trained.http.get(f"/v1/{job['name']}").json()
    assert done["state"] == "JOB_STATE_SUCCEEDED"
    assert trained.http.get(f"/v1/{done['tunedModel']['model']}").status_code == 200
