"""What the planner sees of a listed model when the API sends loosely typed values.

The API's JSON mapping allows numbers as strings (int64 as "5") and enums as
numbers; empty strings mean "not set". Every listed model goes through this
conversion, so these cases pin what it accepts and what it leaves out.
"""

from __future__ import annotations

from reconciler.api.convert import live_model_from_json
from reconciler.live import LiveModel


def test_well_typed_model_is_read_as_sent() -> None:
    model = live_model_from_json(
        {
            "name": "tunedModels/increment",
            "state": "ACTIVE",
            "baseModel": "models/gemini-1.5-flash-001-tuning",
            "displayName": "Increment",
            "description": "adds one",
            "temperature": 0.2,
            "topP": 1,
            "topK": 40,
            "readerProjectNumbers": ["123", 456],
            "createTime": "2026-11-30T00:00:00Z",
            "updateTime": "2026-11-30T00:01:00Z",
            "tuningTask": {
                "hyperparameters": {"epochCount": 5, "batchSize": 4, "learningRate": 0.001},
                "startTime": "2026-11-30T00:00:01Z",
            },
        },
        snapshots=False,
    )
    assert model == LiveModel(
        name="tunedModels/increment",
        state="ACTIVE",
        base_model="models/gemini-1.5-flash-001-tuning",
        display_name="Increment",
        description="adds one",
        temperature=0.2,
        top_p=1.0,
        top_k=40,
        reader_project_numbers=("123", "456"),
        create_time="2026-11-30T00:00:00Z",
        update_time="2026-11-30T00:01:00Z",
        hyperparameters={"epochCount": 5, "batchSize": 4, "learningRate": 0.001},
        start_time="2026-11-30T00:00:01Z",
    )


def test_loosely_typed_values_are_coerced_or_left_out() -> None:
    model = live_model_from_json(
        {
            "name": "",
            "state": 2,  # enum number: ACTIVE
            "baseModel": "",
            "tunedModelSource": {"tunedModel": "tunedModels/parent", "baseModel": "models/b"},
            "displayName": "",
            "description": 7,
            "temperature": "0.5",
            "topP": True,
            "topK": "40",
            "readerProjectNumbers": "123",
            "tuningTask": {
                "hyperparameters": {
                    "epochCount": "5",
                    "batchSize": 4.0,
                    "learningRate": "fast",
                    "learningRateMultiplier": 2,
                }
            },
        }
    )
    assert model == LiveModel(
        name="",
        state="ACTIVE",
        base_model="models/b",
        tuned_model_source="tunedModels/parent",
        temperature=0.5,
        top_p=None,
        top_k=40,
        hyperparameters={"epochCount": 5, "batchSize": 4, "learningRateMultiplier": 2.0},
    )


def test_missing_or_unknown_state_is_unspecified() -> None:
    assert live_model_from_json({"name": "tunedModels/a"}).state == "STATE_UNSPECIFIED"
    assert live_model_from_json({"name": "tunedModels/a", "state": 99}).state == (
        "STATE_UNSPECIFIED"
    )
    assert live_model_from_json({"name": "tunedModels/a", "state": ""}).state == (
        "STATE_UNSPECIFIED"
    )
