"""Credentials, seeded fault injection and the /emulator/ control surface."""

from __future__ import annotations

from collections import Counter

import pytest
from starlette.testclient import TestClient

from reconciler.emulator import ConnectionDropped
from tests.emulator.conftest import MakeClient, create_body


def test_any_credentials_accepted_without_api_key(client: TestClient) -> None:
    assert client.get("/v1beta/tunedModels").status_code == 200
    assert (
        client.get("/v1beta/tunedModels", headers={"x-goog-api-key": "whatever"}).status_code == 200
    )


def test_api_key_checked_in_header_query_and_bearer(make_client: MakeClient) -> None:
    client = make_client(api_key="secret-key")
    ok = [
        client.get("/v1beta/tunedModels", headers={"x-goog-api-key": "secret-key"}),
        client.get("/v1beta/tunedModels?key=secret-key"),
        client.get("/v1beta/tunedModels", headers={"authorization": "Bearer secret-key"}),
    ]
    assert [r.status_code for r in ok] == [200, 200, 200]
    bad = client.get("/v1beta/tunedModels", headers={"x-goog-api-key": "wrong-key"})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert (error["status"], error["message"]) == (
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
    )
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert "wrong-key" not in bad.text and "secret-key" not in bad.text
    assert (
        client.get("/v1beta/tunedModels", headers={"authorization": "Bearer nope"}).json()["error"][
            "status"
        ]
        == "UNAUTHENTICATED"
    )
    none = client.get("/v1beta/tunedModels")
    assert (none.status_code, none.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    # The control surface is for the test harness, not the API: no key needed.
    assert client.get("/emulator/stats").status_code == 200


def outcomes(client: TestClient, n: int) -> list[str]:
    seen = []
    for i in range(n):
        try:
            r = client.post(f"/v1beta/tunedModels?tunedModelId=m{i}", json=create_body())
            seen.append(str(r.status_code))
        except ConnectionDropped:
            seen.append("drop")
    return seen


def test_faults_are_seeded_and_every_kind_occurs(make_client: MakeClient) -> None:
    first = make_client(seed=5, fault_rate=0.6, step_seconds=0)
    got = outcomes(first, 60)
    assert set(got) == {"200", "429", "500", "503", "drop"}
    assert outcomes(make_client(seed=5, fault_rate=0.6, step_seconds=0), 60) == got
    assert outcomes(make_client(seed=6, fault_rate=0.6, step_seconds=0), 60) != got
    # 429 and 503 come before the change, 500 and drops after it.
    first.put("/emulator/config", json={"faultRate": 0.0})
    listed = first.get("/v1beta/tunedModels?pageSize=1000").json()["tunedModels"]
    models = {m["name"] for m in listed}
    created = {f"tunedModels/m{i}" for i, kind in enumerate(got) if kind in ("200", "500", "drop")}
    assert models == created
    # The stats count every fault drawn, by kind.
    drawn = Counter(kind for kind in got if kind != "200")
    assert first.get("/emulator/stats").json()["faults"] == dict(drawn)


def test_retry_hints_on_429(make_client: MakeClient) -> None:
    client = make_client(seed=5, fault_rate=1.0)
    for _ in range(20):
        try:
            r = client.get("/v1beta/tunedModels")
        except ConnectionDropped:
            continue
        if r.status_code == 429:
            assert r.headers["retry-after"] == "0"
            assert r.json()["error"]["details"] == [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.05s"}
            ]
            return
    pytest.fail("no 429 in 20 faulted requests")


def test_stats_count_route_templates_and_creates(client: TestClient) -> None:
    name = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()["name"]
    client.get("/v1beta/tunedModels/inc")
    client.get("/v1beta/tunedModels/inc")
    client.get(f"/v1/{name}")
    client.get("/v1beta/tunedModels")
    assert client.get("/emulator/stats").json() == {
        "total": 5,
        "requests": {
            "POST /v1beta/tunedModels": 1,
            "GET /v1beta/tunedModels/{id}": 2,
            "GET /v1/tunedModels/{id}/operations/{op}": 1,
            "GET /v1beta/tunedModels": 1,
        },
        "creates": {"inc": 1},
        "jobCreates": {},
        "faults": {},
    }


def test_reset_forgets_everything_and_replays_ids(client: TestClient) -> None:
    first = client.post("/v1beta/tunedModels", json=create_body(displayName="a")).json()["name"]
    assert client.post("/emulator/reset").status_code == 200
    assert client.get("/emulator/stats").json() == {
        "total": 0,
        "requests": {},
        "creates": {},
        "jobCreates": {},
        "faults": {},
    }
    assert client.get("/v1beta/tunedModels").json() == {}
    assert (
        client.post("/v1beta/tunedModels", json=create_body(displayName="a")).json()["name"]
        == first
    )


def test_config_changes_at_run_time(client: TestClient) -> None:
    r = client.put(
        "/emulator/config",
        json={"stepSeconds": 0, "latencyMs": 0, "faultRate": 0.0, "tuningFailRate": 1.0},
    )
    assert r.status_code == 200
    assert r.json() == {
        "latencyMs": 0.0,
        "faultRate": 0.0,
        "stepSeconds": 0.0,
        "tuningFailRate": 1.0,
        "operationSeconds": 0.0,
        "tuningExpireRate": 0.0,
        "seed": 7,
    }
    op = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()
    assert op["done"] is True and op["error"]["code"] == 13
    assert client.put("/emulator/config", json={"faultRate": 2}).status_code == 400
    bad = client.put("/emulator/config", json={"colour": 1})
    assert bad.status_code == 400 and "unknown setting(s): colour" in bad.json()["error"]["message"]


def test_latency_is_added(make_client: MakeClient) -> None:
    import time

    client = make_client(latency_ms=60)
    started = time.perf_counter()
    client.get("/v1beta/tunedModels")
    assert time.perf_counter() - started >= 0.06
    assert Counter(client.get("/emulator/stats").json()["requests"]) == Counter(
        {"GET /v1beta/tunedModels": 1}
    )
