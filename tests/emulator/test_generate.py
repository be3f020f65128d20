"""generateContent and streamGenerateContent on tuned and base models."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from tests.emulator.conftest import FakeClock, create_body


def ready(client: TestClient, clock: FakeClock) -> None:
    body = create_body()
    body["tuningTask"]["trainingData"]["examples"]["examples"] = [
        {"textInput": "one two three", "output": "four"},
        {"textInput": "ten eleven", "output": "twelve thirteen fourteen fifteen"},
    ]
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=body)
    clock.advance(100)


def prompt(text: str, **config: object) -> dict[str, object]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], "generationConfig": config}


def test_answers_with_the_closest_example(client: TestClient, clock: FakeClock) -> None:
    ready(client, clock)
    r = client.post("/v1beta/tunedModels/inc:generateContent", json=prompt("two three"))
    assert r.status_code == 200
    ratings = [
        {"category": f"HARM_CATEGORY_{name}", "probability": "NEGLIGIBLE"}
        for name in ("HATE_SPEECH", "DANGEROUS_CONTENT", "HARASSMENT", "SEXUALLY_EXPLICIT")
    ]
    assert r.json() == {
        "candidates": [
            {
                "content": {"parts": [{"text": "four"}], "role": "model"},
                "finishReason": "STOP",
                "safetyRatings": ratings,
            }
        ],
        "promptFeedback": {"safetyRatings": ratings},
        "usageMetadata": {
            "promptTokenCount": 3,
            "candidatesTokenCount": 1,
            "totalTokenCount": 4,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}],
        },
        "modelVersion": "gemini-1.5-flash-001-tuning",
        "responseId": r.json()["responseId"],
    }
    again = client.post("/v1beta/tunedModels/inc:generateContent", json=prompt("two three"))
    assert again.json()["responseId"] == r.json()["responseId"]
    v1 = client.post("/v1/tunedModels/inc:generateContent", json=prompt("eleven"))
    assert (
        v1.json()["candidates"][0]["content"]["parts"][0]["text"]
        == "twelve thirteen fourteen fifteen"
    )


def test_generation_config_is_honoured(client: TestClient, clock: FakeClock) -> None:
    ready(client, clock)
    out = client.post(
        "/v1beta/tunedModels/inc:generateContent?%24alt=json%3Benum-encoding%3Dint",
        json=prompt("eleven", candidateCount=2, maxOutputTokens=2),
    ).json()
    first, second = out["candidates"]
    assert first["content"]["parts"][0]["text"] == "twelve t" and first["finishReason"] == 2
    assert second["index"] == 1 and second["content"]["parts"][0]["text"] == "four"
    stopped = client.post(
        "/v1beta/tunedModels/inc:generateContent", json=prompt("eleven", stopSequences=[" four"])
    ).json()
    assert stopped["candidates"][0]["content"]["parts"][0]["text"] == "twelve thirteen"


def test_streaming_as_sse_and_as_json_array(client: TestClient, clock: FakeClock) -> None:
    ready(client, clock)
    sse = client.post("/v1beta/tunedModels/inc:streamGenerateContent?alt=sse", json=prompt("ten"))
    assert sse.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(e.removeprefix("data: ")) for e in sse.text.split("\r\n\r\n") if e]
    text = "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events)
    assert text == "twelve thirteen fourteen fifteen" and len(events) == 2
    assert events[-1]["candidates"][0]["finishReason"] == "STOP" and "usageMetadata" in events[-1]
    array = client.post("/v1beta/tunedModels/inc:streamGenerateContent", json=prompt("ten")).json()
    assert [e["candidates"][0]["content"] for e in array] == [
        e["candidates"][0]["content"] for e in events
    ]


def test_requests_that_cannot_be_answered(client: TestClient, clock: FakeClock) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body())
    r = client.post("/v1beta/tunedModels/inc:generateContent", json=prompt("x"))
    assert (r.status_code, r.json()["error"]["status"]) == (400, "FAILED_PRECONDITION")
    assert (
        r.json()["error"]["message"]
        == "Tuned model tunedModels/inc is not ready for use (state CREATING)."
    )
    clock.advance(100)
    empty = client.post("/v1beta/tunedModels/inc:generateContent", json={"contents": []})
    assert (
        empty.json()["error"]["message"]
        == "* GenerateContentRequest.contents: contents is not specified\n"
    )
    no_parts = client.post(
        "/v1beta/tunedModels/inc:generateContent", json={"contents": [{"parts": []}]}
    )
    assert no_parts.status_code == 400
    assert (
        client.post("/v1beta/tunedModels/nope:generateContent", json=prompt("x")).status_code == 404
    )


def test_base_model_generates_deterministically(client: TestClient) -> None:
    r = client.post("/v1beta/models/gemini-1.5-flash-001:generateContent", json=prompt("hi"))
    assert (
        r.json()["candidates"][0]["content"]["parts"][0]["text"]
        == "models/gemini-1.5-flash-001 received: hi"
    )
    assert client.post("/v1beta/models/nope:generateContent", json=prompt("hi")).status_code == 404
