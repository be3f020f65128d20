"""``reconciler emulator serve`` answers the Gemini API, Vertex AI and Cloud Storage on one port."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.emulator.conftest import create_body
from tests.support.cloud import BUCKET, EXAMPLES, JOBS, job_body, jsonl
from tests.support.servers import ServedEmulator, serve_emulator


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


def test_jobs_objects_and_models_survive_a_restart_with_db(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.sqlite")
    ask = {"contents": [{"role": "user", "parts": [{"text": "what is 2 plus one"}]}]}
    with (
        serve_emulator("--step-seconds", "0", "--seed", "3", "--db", db) as first,
        httpx.Client(base_url=first.url, timeout=10) as http,
    ):
        http.post(
            f"/upload/storage/v1/b/{BUCKET}/o",
            params={"uploadType": "media", "name": "train.jsonl"},
            content=jsonl(EXAMPLES).encode(),
        )
        name = http.post(JOBS, json=job_body(labels={"k": "v"})).json()["name"]
        done = http.get(f"/v1/{name}").json()
        model = done["tunedModel"]["model"]
        http.patch(f"/v1/{model}", params={"updateMask": "description"}, json={"description": "d"})
        obj = http.get(f"/storage/v1/b/{BUCKET}/o/train.jsonl").json()
    with (
        serve_emulator("--step-seconds", "0", "--seed", "3", "--db", db) as second,
        httpx.Client(base_url=second.url, timeout=10) as http,
    ):
        assert http.get(f"/v1/{name}").json() == done
        assert http.get(f"/v1/{model}").json()["description"] == "d"
        again = http.get(f"/storage/v1/b/{BUCKET}/o/train.jsonl").json()
        assert again["generation"] == obj["generation"] and again["md5Hash"] == obj["md5Hash"]
        reply = http.post(f"/v1/{done['tunedModel']['endpoint']}:generateContent", json=ask)
        assert reply.json()["candidates"][0]["content"]["parts"][0]["text"] == "3"
        # The same seed replays the id stream; a new job still gets a new id.
        other = http.post(JOBS, json=job_body()).json()["name"]
        assert other != name
        listed = http.get(JOBS).json()["tuningJobs"]
        assert [j["name"] for j in listed] == [other, name]
