"""``reconciler emulator serve`` answers the Gemini API, Vertex AI and Cloud Storage on one port."""

from __future__ import annotations

import httpx

from tests.emulator.conftest import create_body
from tests.support.cloud import BUCKET, EXAMPLES, JOBS, job_body, jsonl
from tests.support.servers import ServedEmulator


def test_one_port_serves_all_three_surfaces(emulator: ServedEmulator) -> None:
    with httpx.Client(base_url=emulator.url, timeout=10) as http:
        upload = http.post(
            f"/upload/storage/v1/b/{BUCKET}/o",
            params={"uploadType": "media", "name": "train.jsonl", "ifGenerationMatch": "0"},
            content=jsonl(EXAMPLES).encode(),
        )
        assert upload.status_code == 200
        job = http.post(JOBS, json=job_body(labels={"reconciler-key": "k"})).json()
        assert job["state"] == "JOB_STATE_PENDING"
        # --step-seconds 0: the job has finished by the next read.
        done = http.get(f"/v1/{job['name']}").json()
        assert done["state"] == "JOB_STATE_SUCCEEDED"
        reply = http.post(
            f"/v1/{done['tunedModel']['endpoint']}:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "what is 2 plus one"}]}]},
        )
        assert reply.json()["candidates"][0]["content"]["parts"][0]["text"] == "3"
        op = http.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()
        assert op["done"] is True
        # reset forgets jobs and objects too
        httpx.post(f"{emulator.url}/emulator/reset", timeout=10)
        assert http.get(JOBS).json() == {}
        assert http.get(f"/storage/v1/b/{BUCKET}/o").json() == {"kind": "storage#objects"}
    stats = emulator.stats()
    assert stats["creates"] == {}
    assert stats["requests"] == {
        "GET /v1/projects/{project}/locations/{location}/tuningJobs": 1,
        "GET /storage/v1/b/{bucket}/o": 1,
    }
