"""Over real HTTP: the CLI server, the official client libraries, dropped connections, --db."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator.conftest import BASE, create_body
from tests.support.servers import REPO_ROOT, ServedEmulator, run_cli, serve_emulator

KEY = "test-key-123"


def test_conformance_over_http(emulator: ServedEmulator) -> None:
    with httpx.Client(base_url=emulator.url, timeout=10) as http:
        op = http.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()
        assert op["done"] is True and op["response"]["state"] == "ACTIVE"
        assert http.get("/v1beta/tunedModels/inc").json()["baseModel"] == BASE
        missing = http.get("/v1beta/tunedModels/gone")
        assert (missing.status_code, missing.json()) == (
            404,
            {
                "error": {
                    "code": 404,
                    "message": "Tuned model tunedModels/gone does not exist.",
                    "status": "NOT_FOUND",
                }
            },
        )
        sse = http.post(
            "/v1/tunedModels/inc:streamGenerateContent?alt=sse",
            json={"contents": [{"parts": [{"text": "input 1"}]}]},
        )
        assert sse.text.startswith("data: {") and sse.text.endswith("\r\n\r\n")
        assert http.delete("/v1beta/tunedModels/inc").json() == {}
    assert emulator.stats()["creates"] == {"inc": 1}


def test_dropped_connections_over_http(emulator: ServedEmulator) -> None:
    emulator.configure(faultRate=1.0)
    kinds = []
    with httpx.Client(base_url=emulator.url, timeout=10) as http:
        for _ in range(30):
            try:
                kinds.append(str(http.get("/v1beta/tunedModels").status_code))
            except httpx.RemoteProtocolError:
                kinds.append("drop")
    assert set(kinds) == {"429", "500", "503", "drop"}
    # The server survives the drops and still answers.
    emulator.configure(faultRate=0.0)
    assert httpx.get(f"{emulator.url}/v1beta/tunedModels", timeout=10).status_code == 200


def test_official_clients_run_a_full_cycle() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import google.generativeai as legacy
        from google import genai
        from google.genai import types

    with (
        warnings.catch_warnings(),
        serve_emulator("--step-seconds", "0.01", "--seed", "1", api_key=KEY) as emu,
    ):
        # google-generativeai calls a protobuf argument that protobuf 5 deprecates.
        warnings.filterwarnings("ignore", ".*including_default_value_fields.*", DeprecationWarning)
        legacy.configure(api_key=KEY, transport="rest", client_options={"api_endpoint": emu.url})
        operation = legacy.create_tuned_model(
            source_model=BASE,
            training_data=[{"text_input": "1", "output": "2"}, {"text_input": "3", "output": "4"}],
            id="inc",
            display_name="Increment",
            epoch_count=3,
            batch_size=1,
            learning_rate=0.001,
        )
        tuned: Any = operation.result(timeout=30)
        assert tuned.name == "tunedModels/inc" and len(tuned.tuning_task.snapshots) == 6
        assert [m.name for m in legacy.list_tuned_models()] == ["tunedModels/inc"]
        assert legacy.get_tuned_model("tunedModels/inc").display_name == "Increment"
        assert (
            legacy.update_tuned_model("tunedModels/inc", {"description": "adds one"}).description
            == "adds one"
        )
        assert (
            legacy.GenerativeModel(model_name="tunedModels/inc").generate_content("3").text == "4"
        )

        client = genai.Client(
            api_key=KEY, http_options=types.HttpOptions(base_url=emu.url, api_version="v1beta")
        )
        assert [m.name for m in client.models.list(config={"query_base": False})] == [
            "tunedModels/inc"
        ]
        assert client.models.get(model="tunedModels/inc").description == "adds one"
        updated = client.models.update(model="tunedModels/inc", config={"display_name": "Inc 2"})
        assert updated.display_name == "Inc 2"
        assert client.models.generate_content(model="tunedModels/inc", contents="1").text == "2"
        chunks = client.models.generate_content_stream(model="tunedModels/inc", contents="1")
        assert "".join(c.text or "" for c in chunks) == "2"
        client.models.delete(model="tunedModels/inc")
        legacy_missing = pytest.raises(Exception, match="does not exist")
        with legacy_missing:
            legacy.get_tuned_model("tunedModels/inc")
        assert emu.stats()["creates"] == {"inc": 1}


def test_models_survive_a_restart_with_db(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.sqlite")
    with serve_emulator("--step-seconds", "0", "--db", db) as first:
        httpx.post(
            f"{first.url}/v1beta/tunedModels?tunedModelId=kept", json=create_body(), timeout=10
        )
        httpx.post(
            f"{first.url}/v1beta/tunedModels?tunedModelId=gone", json=create_body(), timeout=10
        )
        httpx.delete(f"{first.url}/v1beta/tunedModels/gone", timeout=10)
        before = httpx.get(f"{first.url}/v1beta/tunedModels/kept", timeout=10).json()
    with serve_emulator("--step-seconds", "0", "--db", db) as second:
        listed = httpx.get(f"{second.url}/v1beta/tunedModels", timeout=10).json()["tunedModels"]
        assert listed == [before]


def test_cli_port_zero_prints_the_chosen_port() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0", "--api-key", KEY],
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert line.startswith("Gemini API emulator listening on http://127.0.0.1:")
        assert line.rstrip().endswith("(v1beta)") and KEY not in line
        url = line.split(" on ")[1].split()[0]
        assert httpx.get(f"{url}/v1beta/tunedModels?key={KEY}", timeout=10).status_code == 200
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=10)
    assert KEY.encode() not in rest


def test_serving_on_a_port_in_use_says_so_and_how_to_pick_another() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("emulator", "serve", "--port", str(port), timeout=60)

    assert result.returncode != 0
    assert result.stderr.startswith(f"Error: cannot serve on 127.0.0.1:{port}: the port is in use")
    assert "--port 0" in result.stderr
    assert "internal error" not in result.stderr
