"""One request must not poison or hang the emulator: each is refused with a 400 and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from starlette.testclient import TestClient

from tests.emulator.conftest import MakeClient, create_body
from tests.emulator.openapi import validate
from tests.support.servers import serve_emulator


def error(response: httpx.Response) -> tuple[int, str]:
    validate(response.json(), "ErrorResponse")
    return response.status_code, response.json()["error"]["message"]


def test_a_tuning_too_long_to_simulate_is_refused_at_once(make_client: MakeClient) -> None:
    client = make_client(step_seconds=0)
    huge = create_body(examples=4, epochs=1, batch=1)
    huge["tuningTask"]["hyperparameters"]["epochCount"] = 1e20
    assert error(client.post("/v1beta/tunedModels?tunedModelId=a", json=huge)) == (
        400,
        "Invalid value at 'hyperparameters.epoch_count' (TYPE_INT32), 1e+20",
    )
    long = create_body(examples=4, epochs=2**31 - 1, batch=1)
    assert error(client.post("/v1beta/tunedModels?tunedModelId=b", json=long)) == (
        400,
        "The tuning would run 8589934588 steps (examples x epoch_count / batch_size); "
        "the emulator runs at most 10000.",
    )
    rate = create_body()
    rate["tuningTask"]["hyperparameters"]["learningRate"] = "Infinity"
    assert error(client.post("/v1beta/tunedModels?tunedModelId=c", json=rate)) == (
        400,
        "Invalid value at 'hyperparameters.learning_rate' (TYPE_FLOAT), 'Infinity'",
    )
    assert client.get("/v1beta/tunedModels").json() == {}


def test_a_lone_surrogate_is_refused_and_later_lists_still_work(client: TestClient) -> None:
    raw = json.dumps(create_body()).replace("{", '{"displayName": "bad \\ud800 name", ', 1)
    refused = client.post(
        "/v1beta/tunedModels?tunedModelId=s",
        content=raw.encode(),
        headers={"content-type": "application/json"},
    )
    assert error(refused) == (
        400,
        "Invalid JSON payload received. A string holds a lone UTF-16 surrogate (invalid Unicode).",
    )
    paired = raw.replace("\\ud800", "\\ud83d\\ude00")  # a valid pair is an emoji
    assert client.post("/v1beta/tunedModels?tunedModelId=s", content=paired.encode()).is_success
    listed = client.get("/v1beta/tunedModels")
    assert listed.status_code == 200
    assert [m["displayName"] for m in listed.json()["tunedModels"]] == ["bad \U0001f600 name"]


def test_non_finite_config_is_refused_and_not_applied(client: TestClient) -> None:
    before = client.get("/emulator/config").json()
    for text in ('{"latencyMs": Infinity}', '{"stepSeconds": NaN}', '{"latencyMs": 1e999}'):
        r = client.put("/emulator/config", content=text.encode())
        assert r.status_code == 400, text
        validate(r.json(), "ErrorResponse")
    too_slow = client.put("/emulator/config", json={"latencyMs": 1e9})
    assert error(too_slow) == (400, "latencyMs must be within [0, 60000]")
    assert client.get("/emulator/config").json() == before
    assert client.get("/v1beta/tunedModels").status_code == 200


def test_deep_bodies_and_selectors_are_400_not_500(client: TestClient) -> None:
    deep = b"[" * 1_000_000 + b"]" * 1_000_000
    assert error(client.post("/v1beta/tunedModels", content=deep)) == (
        400,
        "Invalid JSON payload received. The JSON nesting is deeper than 100 levels.",
    )
    nested = '{"a":' * 150 + "1" + "}" * 150
    assert client.post("/v1beta/tunedModels", content=nested.encode()).status_code == 400
    selector = "a(" * 3000 + "b" + ")" * 3000
    code, message = error(client.get("/v1beta/tunedModels", params={"fields": selector}))
    assert code == 400 and message.endswith(": nested deeper than 100 levels.")
    path = "/".join(["a"] * 3000)
    code, message = error(client.get("/v1beta/tunedModels", params={"fields": path}))
    assert code == 400 and message.endswith(": nested deeper than 100 levels.")
    assert client.get("/v1beta/tunedModels").status_code == 200


def test_a_body_over_the_size_limit_is_refused(client: TestClient) -> None:
    big = b'{"displayName": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    assert error(client.post("/v1beta/tunedModels", content=big)) == (
        400,
        "Request payload size exceeds the limit: 20971520 bytes.",
    )


def test_control_changes_need_the_key_when_one_is_set(make_client: MakeClient) -> None:
    client = make_client(api_key="secret-key")
    key = {"x-goog-api-key": "secret-key"}
    refused = [
        client.post("/emulator/reset"),
        client.put("/emulator/config", json={"latencyMs": 5}),
        client.post("/emulator/clock", json={"advanceSeconds": 5}),
        client.post("/emulator/reset", headers={"x-goog-api-key": "wrong"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 400]
    for r in refused:
        validate(r.json(), "ErrorResponse")
    assert client.get("/emulator/config").json()["latencyMs"] == 0
    # Reads stay open (readiness probes); changes with the key work.
    assert client.get("/emulator/stats").status_code == 200
    assert client.put("/emulator/config", json={"latencyMs": 5}, headers=key).status_code == 200
    assert client.post("/emulator/reset?key=secret-key").status_code == 200
    bearer = {"authorization": "Bearer secret-key"}
    assert client.post("/emulator/clock", json={}, headers=bearer).status_code == 200


def test_the_api_key_can_come_from_the_environment_out_of_sight_of_ps(tmp_path: Path) -> None:
    with serve_emulator("--step-seconds", "0", api_key="env-key-1234") as emu:
        cmdline = Path(f"/proc/{emu.process.pid}/cmdline").read_bytes()
        assert b"env-key-1234" not in cmdline
        assert httpx.get(f"{emu.url}/v1beta/tunedModels", timeout=10).status_code == 403
        ok = httpx.get(
            f"{emu.url}/v1beta/tunedModels", headers={"x-goog-api-key": "env-key-1234"}, timeout=10
        )
        assert ok.status_code == 200
        assert httpx.post(f"{emu.url}/emulator/reset", timeout=10).status_code == 403
        emu.reset()  # with the key
