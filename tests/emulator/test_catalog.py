"""The base-model catalog over real HTTP: the names Google's samples call, aliases, pages, tuning."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.emulator.openapi import validate
from tests.support.servers import ServedEmulator

SAMPLE_MODELS = {
    # name -> (inputTokenLimit, outputTokenLimit, the version that answers)
    "gemini-1.5-flash": (1_000_000, 8192, "gemini-1.5-flash-002"),
    "gemini-1.5-flash-latest": (1_000_000, 8192, "gemini-1.5-flash-002"),
    "gemini-1.5-flash-001": (1_000_000, 8192, "gemini-1.5-flash-001"),
    "gemini-1.5-pro": (2_000_000, 8192, "gemini-1.5-pro-002"),
    "gemini-1.5-pro-latest": (2_000_000, 8192, "gemini-1.5-pro-002"),
    "gemini-2.0-flash": (1_048_576, 8192, "gemini-2.0-flash-001"),
    "gemini-2.5-flash": (1_048_576, 65_536, "gemini-2.5-flash"),
    "gemini-2.5-pro": (1_048_576, 65_536, "gemini-2.5-pro"),
}


@pytest.fixture
def http(emulator: ServedEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("name", sorted(SAMPLE_MODELS))
def test_the_models_the_samples_call_exist_with_their_limits(http: httpx.Client, name: str) -> None:
    model = http.get(f"/v1beta/models/{name}").json()
    validate(model, "Model")
    inputs, outputs, version = SAMPLE_MODELS[name]
    assert (model["name"], model["inputTokenLimit"], model["outputTokenLimit"]) == (
        f"models/{name}",
        inputs,
        outputs,
    )
    assert {"generateContent", "countTokens"} <= set(model["supportedGenerationMethods"])
    assert "createTunedModel" not in model["supportedGenerationMethods"]
    answer = http.post(
        f"/v1/models/{name}:generateContent", json={"contents": [{"parts": [{"text": "hi"}]}]}
    ).json()
    assert answer["modelVersion"] == version


def test_the_list_is_paged_and_only_the_tuning_base_accepts_tuning(http: httpx.Client) -> None:
    first = http.get("/v1beta/models", params={"page_size": 5}).json()
    validate(first, "ListModelsResponse")
    assert len(first["models"]) == 5 and first["nextPageToken"]
    names = [m["name"] for m in first["models"]]
    token = first["nextPageToken"]
    while token:
        page = http.get("/v1beta/models", params={"page_size": 5, "page_token": token}).json()
        validate(page, "ListModelsResponse")
        names += [m["name"] for m in page["models"]]
        token = page.get("nextPageToken", "")
    whole = http.get("/v1beta/models").json()  # 50 a page by default: all of them
    assert "nextPageToken" not in whole
    assert names == [m["name"] for m in whole["models"]] and len(names) == len(set(names)) == 21
    tunable = [
        m["name"] for m in whole["models"] if "createTunedModel" in m["supportedGenerationMethods"]
    ]
    assert tunable == ["models/gemini-1.5-flash-001-tuning"]
    thinking = {m["name"] for m in whole["models"] if m.get("thinking")}
    assert "models/gemini-2.5-flash" in thinking and "models/gemini-2.0-flash" not in thinking
    bad = http.get("/v1beta/models", params={"pageToken": "nope"})
    assert bad.status_code == 400
    validate(bad.json(), "ErrorResponse")


def test_only_the_tuning_base_can_be_tuned(http: httpx.Client) -> None:
    body = {
        "baseModel": "models/gemini-2.0-flash",
        "tuningTask": {"trainingData": {"examples": {"examples": [{"textInput": "1", "output": "2"}]}}},
    }  # fmt: skip
    r = http.post("/v1beta/tunedModels?tunedModelId=x", json=body)
    assert (r.status_code, r.json()["error"]["message"]) == (
        404,
        "models/gemini-2.0-flash is not found for CREATE TUNED MODEL at API version v1beta.",
    )
