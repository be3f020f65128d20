"""Every response the emulator writes, checked against the v1beta OpenAPI schemas.

A realistic sequence (create, progress, done, failed, cancel, patch, list pages,
generate, stream chunks, the base-model routes and each error) is recorded and
every body validated with all object schemas closed, in both enum encodings,
so an unknown, misspelled or wrongly typed field fails here first.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from starlette.testclient import TestClient

from reconciler.emulator.gateway import fault_error
from tests.emulator.conftest import BASE, FakeClock, MakeClient, create_body
from tests.emulator.openapi import validate

INT_ENUMS = "%24alt=json%3Benum-encoding%3Dint"
GENERATE = {"contents": [{"role": "user", "parts": [{"text": "input 1"}]}]}

Recorded = list[tuple[str, Any, str]]


class Recorder:
    """Sends requests with or without ``$alt=json;enum-encoding=int`` and keeps the bodies."""

    def __init__(self, client: TestClient, *, int_enums: bool) -> None:
        self.client = client
        self.int_enums = int_enums
        self.seen: Recorded = []

    def call(self, method: str, url: str, schema: str, *, code: int = 200, **kwargs: Any) -> Any:
        if self.int_enums:
            url += ("&" if "?" in url else "?") + INT_ENUMS
        response = self.client.request(method, url, **kwargs)
        assert response.status_code == code, (url, response.text)
        body = response.json()
        self.seen.append((f"{method} {url}", body, schema))
        return body


def _sequence(rec: Recorder, clock: FakeClock, failing: TestClient) -> None:
    op = rec.call("POST", "/v1beta/tunedModels?tunedModelId=inc", "Operation", json=create_body())
    rec.call("GET", "/v1beta/tunedModels/inc", "TunedModel")
    clock.advance(2)  # 2 of 4 steps
    rec.call("GET", f"/v1beta/{op['name']}", "Operation")
    rec.call("GET", f"/v1/{op['name']}", "Operation")
    rec.call("GET", "/v1beta/tunedModels/inc", "TunedModel")
    rec.call("GET", "/v1beta/tunedModels/inc/operations", "ListOperationsResponse")
    clock.advance(10)
    done = rec.call("GET", f"/v1beta/{op['name']}", "Operation")
    assert done["done"] is True and "response" in done
    rec.call("GET", "/v1beta/tunedModels/inc/operations?pageSize=1", "ListOperationsResponse")
    rec.call(
        "PATCH",
        "/v1beta/tunedModels/inc?updateMask=description,topK",
        "TunedModel",
        json={"description": "adds one", "topK": 10},
    )
    rec.call("PATCH", "/v1beta/tunedModels/inc", "TunedModel", json={"displayName": "Increment"})
    source = {"tunedModelSource": {"tunedModel": "tunedModels/inc"}}
    body = create_body(displayName="Child", **source)
    del body["baseModel"]
    rec.call("POST", "/v1beta/tunedModels", "Operation", json=body)
    rec.call("POST", "/v1beta/tunedModels?tunedModelId=slow", "Operation", json=create_body())
    rec.call("POST", "/v1beta/tunedModels/slow/operations/x:cancel", "ErrorResponse", code=404)
    slow_op = rec.call("GET", "/v1beta/tunedModels/slow/operations", "ListOperationsResponse")
    rec.call("POST", f"/v1beta/{slow_op['operations'][0]['name']}:cancel", "Empty")
    rec.call("GET", f"/v1beta/{slow_op['operations'][0]['name']}", "Operation")
    page = rec.call("GET", "/v1beta/tunedModels?pageSize=1", "ListTunedModelsResponse")
    token = page["nextPageToken"]
    rec.call("GET", f"/v1beta/tunedModels?pageSize=1&pageToken={token}", "ListTunedModelsResponse")
    rec.call("GET", "/v1beta/tunedModels?filter=nothing-matches", "ListTunedModelsResponse")
    for version in ("v1beta", "v1"):
        rec.call(
            "POST",
            f"/{version}/tunedModels/inc:generateContent",
            "GenerateContentResponse",
            json={**GENERATE, "generationConfig": {"candidateCount": 2, "maxOutputTokens": 1}},
        )
        chunks = rec.call(
            "POST",
            f"/{version}/tunedModels/inc:streamGenerateContent",
            "GenerateContentChunks",
            json=GENERATE,
        )
        assert len(chunks) == 2
    rec.call("POST", f"/v1beta/{BASE}:generateContent", "GenerateContentResponse", json=GENERATE)
    rec.call("GET", "/v1beta/models", "ListModelsResponse")
    rec.call("GET", f"/v1beta/{BASE}", "Model")
    rec.call("DELETE", "/v1beta/tunedModels/inc", "Empty")
    # Errors
    rec.call("GET", "/v1beta/tunedModels/inc", "ErrorResponse", code=404)
    rec.call("GET", "/v1beta/tunedModels/inc/operations/x", "ErrorResponse", code=404)
    rec.call(
        "POST",
        "/v1beta/tunedModels?tunedModelId=Bad_Id",
        "ErrorResponse",
        code=400,
        json=create_body(),
    )
    rec.call(
        "POST",
        "/v1beta/tunedModels?tunedModelId=slow",
        "ErrorResponse",
        code=409,
        json=create_body(),
    )
    rec.call("POST", "/v1beta/tunedModels", "ErrorResponse", code=400, json=create_body())
    rec.call(
        "POST",
        "/v1beta/tunedModels?tunedModelId=b",
        "ErrorResponse",
        code=404,
        json=create_body(baseModel="models/nope"),
    )
    rec.call(
        "PATCH", "/v1beta/tunedModels/slow?updateMask=baseModel", "ErrorResponse", code=400, json={}
    )
    rec.call(
        "POST", "/v1beta/tunedModels/slow:generateContent", "ErrorResponse", code=400, json=GENERATE
    )
    rec.call("GET", "/v1beta/nowhere", "ErrorResponse", code=404)
    # A failed tuning: the operation ends with an error and the model is FAILED.
    failed = Recorder(failing, int_enums=rec.int_enums)
    failed_op = failed.call(
        "POST", "/v1beta/tunedModels?tunedModelId=bad", "Operation", json=create_body()
    )
    clock.advance(100)
    ended = failed.call("GET", f"/v1beta/{failed_op['name']}", "Operation")
    assert ended["error"]["code"] == 13 and "response" not in ended
    failed.call("GET", "/v1beta/tunedModels/bad", "TunedModel")
    rec.seen += failed.seen


@pytest.mark.parametrize("int_enums", [False, True], ids=["enum-names", "enum-int"])
def test_every_response_matches_the_openapi_schema(
    make_client: MakeClient, clock: FakeClock, int_enums: bool
) -> None:
    rec = Recorder(make_client(), int_enums=int_enums)
    _sequence(rec, clock, make_client(tuning_fail_rate=1.0))
    assert len(rec.seen) >= 39
    for label, body, schema in rec.seen:
        if schema == "GenerateContentChunks":
            for chunk in body:
                _check(label, chunk, "GenerateContentResponse", int_enums=int_enums)
        else:
            _check(label, body, schema, int_enums=int_enums)


def test_streamed_sse_events_match_the_schema(client: TestClient, clock: FakeClock) -> None:
    client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body())
    clock.advance(100)
    r = client.post("/v1beta/tunedModels/inc:streamGenerateContent?alt=sse", json=GENERATE)
    events = [line.removeprefix("data: ") for line in r.text.split("\r\n\r\n") if line]
    assert len(events) == 2
    for event in events:
        validate(json.loads(event), "GenerateContentResponse")


def test_auth_and_fault_errors_match_the_schema(make_client: MakeClient) -> None:
    locked = make_client(api_key="k")
    answers = [
        locked.get("/v1beta/tunedModels", headers={"x-goog-api-key": "wrong"}),
        locked.get("/v1beta/tunedModels", headers={"authorization": "Bearer wrong"}),
        locked.get("/v1beta/tunedModels"),
    ]
    assert [a.status_code for a in answers] == [400, 401, 403]
    bodies = [a.json() for a in answers]
    bodies += [fault_error(kind).body() for kind in ("429", "503", "500")]
    for body in bodies:
        validate(body, "ErrorResponse")


def test_the_check_rejects_unknown_and_misspelled_fields() -> None:
    """The closed schemas are what make the audit bite: prove they do."""
    good = {"name": "tunedModels/x", "state": "ACTIVE", "tuningTask": {"snapshots": [{"step": 1}]}}
    validate(good, "TunedModel")
    for bad in (
        {**good, "trainingData": {}},
        {**good, "tuningTask": {"snapshots": [{"step": 1, "loss": 1.0}]}},
        {**good, "state": 2},
        {**good, "createTime": "2024-01-01 00:00:00"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad, "TunedModel")
    with pytest.raises(jsonschema.ValidationError):
        validate({"name": "x", "metadata": {"@type": "t", "totalSteps": 1}}, "Operation")


def _check(label: str, body: Any, schema: str, *, int_enums: bool) -> None:
    try:
        validate(body, schema, int_enums=int_enums)
    except jsonschema.ValidationError as error:
        path = "/".join(str(p) for p in error.absolute_path)
        pytest.fail(f"{label}: {schema} at {path or '.'}: {error.message}\n{json.dumps(body)}")
