"""A tuned model's endpoint answering generateContent in Vertex form, deterministically."""

from __future__ import annotations

import pytest

from reconciler.emulator.vertex.catalog import project_number
from tests.support.cloud import LOCATION, PROJECT, Served


@pytest.fixture
def endpoint(trained: Served) -> str:
    name = trained.create_job()["name"]
    trained.clock.advance(100)
    value: str = trained.http.get(f"/v1/{name}").json()["tunedModel"]["endpoint"]
    return value


def ask(text: str) -> dict[str, object]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def test_generate_answers_with_the_closest_training_example(trained: Served, endpoint: str) -> None:
    r = trained.http.post(f"/v1/{endpoint}:generateContent", json=ask("what is 7 plus one"))
    assert r.status_code == 200
    assert r.json() == {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "8"}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {
            "promptTokenCount": 5,
            "candidatesTokenCount": 1,
            "totalTokenCount": 6,
            "trafficType": "ON_DEMAND",
        },
        "modelVersion": "gemini-2.5-flash",
        "createTime": "2023-11-14T22:15:00.000000Z",
    }
    # Not an exact prompt: the most word overlap wins.
    near = trained.http.post(f"/v1beta1/{endpoint}:generateContent", json=ask("so what is 12 plus"))
    assert near.json()["candidates"][0]["content"]["parts"][0]["text"] == "13"


def test_generation_config_and_streaming(trained: Served, endpoint: str) -> None:
    body = {**ask("what is 3 plus one"), "generationConfig": {"candidateCount": 2}}
    two = trained.http.post(f"/v1/{endpoint}:generateContent", json=body).json()
    # The next candidate is the next closest example: all tie here, so the first one.
    assert [c["content"]["parts"][0]["text"] for c in two["candidates"]] == ["4", "1"]
    assert two["candidates"][1]["index"] == 1
    sse = trained.http.post(
        f"/v1/{endpoint}:streamGenerateContent",
        params={"alt": "sse"},
        json=ask("what is 3 plus one"),
    )
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert sse.text.startswith(
        'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"4"}]}'
    )
    assert sse.text.endswith("\r\n\r\n")


def test_no_endpoint_before_the_job_succeeds_and_bad_requests(trained: Served) -> None:
    name = trained.create_job()["name"]
    job_id = name.rsplit("/", 1)[1]
    trained.clock.advance(100)
    endpoint = trained.http.get(f"/v1/{name}").json()["tunedModel"]["endpoint"]
    trained.clock.now -= 98  # back to while the job was running
    r = trained.http.post(f"/v1/{endpoint}:generateContent", json=ask("what is 1 plus one"))
    assert (r.status_code, r.json()) == (
        404,
        {
            "error": {
                "code": 404,
                "message": f"Endpoint `{endpoint}` not found.",
                "status": "NOT_FOUND",
            }
        },
    )
    trained.clock.advance(98)
    empty = trained.http.post(f"/v1/{endpoint}:generateContent", json={"contents": []})
    assert (empty.status_code, empty.json()["error"]["message"]) == (
        400,
        "Unable to submit request because it has an empty contents field.",
    )
    # The endpoint answers under the project id as well as its number.
    by_id = endpoint.replace(f"projects/{project_number(PROJECT)}/", f"projects/{PROJECT}/")
    assert trained.http.post(f"/v1/{by_id}:generateContent", json=ask("x")).status_code == 200
    unknown = f"projects/{PROJECT}/locations/{LOCATION}/endpoints/{job_id}"
    assert trained.http.post(f"/v1/{unknown}:generateContent", json=ask("x")).status_code == 404
