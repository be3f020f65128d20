"""``/emulator/clock``: tests move the emulator's time instead of sleeping through tuning."""

from __future__ import annotations

import httpx
from starlette.testclient import TestClient

from tests.emulator.conftest import START, create_body
from tests.emulator.openapi import validate
from tests.support.servers import ServedEmulator


def test_advancing_the_clock_finishes_a_tuning(client: TestClient) -> None:
    op = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()
    assert client.get("/emulator/clock").json() == {
        "now": "2023-11-14T22:13:20.000000Z",
        "epochSeconds": START,
        "advancedSeconds": 0.0,
    }

    moved = client.post("/emulator/clock", json={"advanceSeconds": 2.5})

    assert moved.json() == {
        "now": "2023-11-14T22:13:22.500000Z",
        "epochSeconds": START + 2.5,
        "advancedSeconds": 2.5,
    }
    half = client.get(f"/v1beta/{op['name']}").json()
    assert (half["metadata"]["completedSteps"], "done" in half) == (2, False)
    client.post("/emulator/clock", json={"advanceSeconds": 10})
    done = client.get(f"/v1beta/{op['name']}").json()
    assert done["done"] is True and done["response"]["state"] == "ACTIVE"
    assert done["response"]["tuningTask"]["completeTime"] == "2023-11-14T22:13:24.000000Z"
    # Time only moves forward: a reset forgets the models, not the time.
    client.post("/emulator/reset")
    assert client.get("/emulator/clock").json()["advancedSeconds"] == 12.5


def test_bad_clock_moves_are_refused(client: TestClient) -> None:
    for body, message in (
        ({"advanceSeconds": -1}, "advanceSeconds must be a number >= 0"),
        ({"advanceSeconds": "10"}, "advanceSeconds must be a number"),
        ({"advanceSeconds": 1e300}, "before the year 9000"),
        ({"seconds": 1}, "unknown field(s): seconds; known: advanceSeconds"),
    ):
        r = client.post("/emulator/clock", json=body)
        assert r.status_code == 400, body
        validate(r.json(), "ErrorResponse")
        assert message in r.json()["error"]["message"]
    assert client.get("/emulator/clock").json()["advancedSeconds"] == 0.0


def test_the_clock_moves_a_served_emulator(emulator: ServedEmulator) -> None:
    emulator.configure(stepSeconds=3600)
    url = emulator.url
    httpx.post(f"{url}/v1beta/tunedModels?tunedModelId=slow", json=create_body(), timeout=10)
    assert httpx.get(f"{url}/v1beta/tunedModels/slow", timeout=10).json()["state"] == "CREATING"

    emulator.advance(4 * 3600)

    assert httpx.get(f"{url}/v1beta/tunedModels/slow", timeout=10).json()["state"] == "ACTIVE"


def test_the_clock_moves_vertex_tuning_jobs_too(client: TestClient) -> None:
    from tests.support.cloud import BUCKET, EXAMPLES, JOBS, job_body, jsonl

    uploaded = client.post(
        f"/upload/storage/v1/b/{BUCKET}/o",
        params={"uploadType": "media", "name": "train.jsonl"},
        content=jsonl(EXAMPLES).encode(),
        headers={"content-type": "application/jsonl"},
    )
    assert uploaded.status_code == 200, uploaded.text
    job = client.post(JOBS, json=job_body()).json()
    assert client.get(f"/v1/{job['name']}").json()["state"] == "JOB_STATE_PENDING"

    client.post("/emulator/clock", json={"advanceSeconds": 3600})

    assert client.get(f"/v1/{job['name']}").json()["state"] == "JOB_STATE_SUCCEEDED"
