"""A listing without snapshots asks for a partial response holding what the converter reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api.client import LIST_FIELDS_WITHOUT_SNAPSHOTS, GeminiClient
from reconciler.api.convert import TUNED_MODEL_FIELDS, live_model_from_json, tuned_model_fields
from reconciler.errors import InvalidArgumentError
from tests.api.fake_api import FakeGeminiApi, Fault, Recorded

SCHEMAS = Path(__file__).parents[1] / "emulator" / "openapi_v1beta_schemas.json"

TUNING_TASK = {
    "startTime": "2024-03-14T15:07:41.317001Z",
    "completeTime": "2024-03-14T15:11:30.123456Z",
    "snapshots": [{"step": 1, "epoch": 1, "meanLoss": 2.5, "computeTime": "2024-03-14T15:08:00Z"}],
    "hyperparameters": {"epochCount": 5, "batchSize": 4, "learningRate": 0.001},
}
FULL_MODEL = {
    "name": "tunedModels/a",
    "baseModel": "models/gemini-1.5-flash-001-tuning",
    "displayName": "A",
    "description": "d",
    "temperature": 0.5,
    "topP": 0.9,
    "topK": 40,
    "readerProjectNumbers": ["123"],
    "state": "ACTIVE",
    "createTime": "2024-03-14T15:07:41.317001Z",
    "updateTime": "2024-03-14T15:11:30.123456Z",
    "tuningTask": TUNING_TASK,
}
# Tuned from a tuned model: the base model is only inside tunedModelSource.
FROM_SOURCE = {
    **{k: v for k, v in FULL_MODEL.items() if k != "baseModel"},
    "tunedModelSource": {"tunedModel": "tunedModels/p", "baseModel": FULL_MODEL["baseModel"]},
}

Path_ = tuple[str, ...]


class Reading(dict[str, Any]):
    """A JSON object that notes the path of every field read from it."""

    def __init__(self, data: dict[str, Any], seen: set[Path_], at: Path_ = ()) -> None:
        super().__init__(data)
        self.seen = seen
        self.at = at

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.seen.add((*self.at, key))
        value = super().get(key, default)
        return Reading(value, self.seen, (*self.at, key)) if isinstance(value, dict) else value

    def __getitem__(self, key: str) -> Any:
        return self.get(key)


def _read_paths(*, snapshots: bool) -> set[Path_]:
    seen: set[Path_] = set()
    for model in (FULL_MODEL, FROM_SOURCE):
        live_model_from_json(Reading(model, seen), snapshots=snapshots)
    return seen


def _constant_paths(*, snapshots: bool) -> set[Path_]:
    paths: set[Path_] = set()
    for name, sub in TUNED_MODEL_FIELDS.items():
        paths.add((name,))
        for key in sub or ():
            if snapshots or (name, key) != ("tuningTask", "snapshots"):
                paths.add((name, key))
    return paths


def _covered(path: Path_) -> bool:
    """Whether TUNED_MODEL_FIELDS selects ``path`` (a whole field covers what is under it)."""
    if path[0] not in TUNED_MODEL_FIELDS:
        return False
    sub = TUNED_MODEL_FIELDS[path[0]]
    return sub is None or len(path) == 1 or path[1] in sub


def test_the_selector_holds_exactly_what_the_converter_reads() -> None:
    for snapshots in (True, False):
        read = _read_paths(snapshots=snapshots)
        assert [p for p in sorted(read) if not _covered(p)] == []
        # Reads under a whole field (hyperparameters/epochCount) count for the field.
        fields_read = {
            p[:2] if p[0] == "tuningTask" or p[0] == "tunedModelSource" else p[:1] for p in read
        }
        assert fields_read == _constant_paths(snapshots=snapshots)


def test_the_selector_names_only_fields_of_the_openapi_schemas() -> None:
    schemas = json.loads(SCHEMAS.read_text())["components"]["schemas"]
    tuned_model = schemas["TunedModel"]["properties"]
    for name, sub in TUNED_MODEL_FIELDS.items():
        assert name in tuned_model, name
        if sub is not None:
            nested = schemas[tuned_model[name]["$ref"].rsplit("/", 1)[1]]["properties"]
            assert set(sub) <= set(nested), (name, set(sub) - set(nested))
    assert "nextPageToken" in schemas["ListTunedModelsResponse"]["properties"]


def test_the_selector_spells_out_the_fields_without_snapshots() -> None:
    assert LIST_FIELDS_WITHOUT_SNAPSHOTS == (
        "tunedModels(name,state,baseModel,tunedModelSource(tunedModel,baseModel),displayName,"
        "description,temperature,topP,topK,readerProjectNumbers,createTime,updateTime,"
        "tuningTask(startTime,completeTime,hyperparameters)),nextPageToken"
    )
    assert tuned_model_fields(snapshots=True).endswith(
        "tuningTask(startTime,completeTime,hyperparameters,snapshots)"
    )


def test_a_list_without_snapshots_sends_the_selector_on_every_page(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    for i in range(2500):
        fake_api.add_model(f"m{i:04d}", tuningTask=TUNING_TASK)

    models = list(client.list_tuned_models(snapshots=False))

    assert len(models) == 2500 and client.request_count == 3
    assert [r.url.params.get("fields") for r in fake_api.requests] == [
        LIST_FIELDS_WITHOUT_SNAPSHOTS
    ] * 3
    # A server that ignores the selector still yields models without snapshots.
    assert {m.snapshots for m in models} == {()}
    assert models[0].hyperparameters == TUNING_TASK["hyperparameters"]


def test_a_list_with_snapshots_asks_for_everything(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    fake_api.add_model("m", tuningTask=TUNING_TASK)
    (model,) = client.list_tuned_models()
    assert len(model.snapshots) == 1
    assert "fields" not in fake_api.requests[0].url.params


def test_a_server_that_refuses_the_selector_gets_whole_lists_from_then_on(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    for i in range(1500):
        fake_api.add_model(f"m{i:04d}", tuningTask=TUNING_TASK)
    refuse = fake_api.handle

    def handle(request: httpx.Request) -> httpx.Response:
        if "fields" in request.url.params:
            fake_api.requests.append(Recorded(request.method, request.url, request.headers, None))
            return httpx.Response(
                400,
                json={
                    "error": {
                        "code": 400,
                        "message": "Invalid field selection tunedModels",
                        "status": "INVALID_ARGUMENT",
                    }
                },
            )
        return refuse(request)

    fake_api.handle = handle  # type: ignore[method-assign]

    first = list(client.list_tuned_models(snapshots=False))
    second = list(client.list_tuned_models(snapshots=False))

    assert len(first) == len(second) == 1500
    assert {m.snapshots for m in first} == {()}
    assert first[0].hyperparameters == TUNING_TASK["hyperparameters"]
    # One refused request, then whole pages: 2 + 2, never a model twice.
    assert ["fields" in r.url.params for r in fake_api.requests] == [
        True,
        False,
        False,
        False,
        False,
    ]
    assert len({m.name for m in first}) == 1500


def test_a_refusal_after_models_were_listed_is_an_error_not_a_second_listing(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    for i in range(1500):
        fake_api.add_model(f"m{i:04d}", tuningTask=TUNING_TASK)
    fake_api.default_page_size = 1000
    listed = client.list_tuned_models(snapshots=False, page_size=1000)
    seen = [next(listed) for _ in range(1000)]
    fake_api.fail_next(Fault(status=400))

    with pytest.raises(InvalidArgumentError):
        list(listed)
    assert len(seen) == 1000
