"""Retraining safely, through the CLI against a served emulator.

A replace must never delete a serving model whose successor cannot be made:
plan asks the API first (base model tunable, source present and ACTIVE).
"""

from __future__ import annotations

from typing import Any

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model

UNTUNABLE = "models/gemini-1.5-flash-001"  # served, but lacks createTunedModel


def with_base(doc: dict[str, Any], base: str) -> dict[str, Any]:
    doc["spec"]["baseModel"] = base
    return doc


def test_a_retrain_onto_an_untunable_base_model_is_a_plan_error_and_deletes_nothing(
    ws: Workspace,
) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta"))
    assert ws.apply().returncode == 0
    before = ws.live()
    ws.write(
        dataset("numbers", NUMBERS),
        with_base(tuned_model("alpha"), UNTUNABLE),
        with_base(tuned_model("beta"), UNTUNABLE),
    )
    deletes, lookups = (
        ws.requests("DELETE /v1beta/tunedModels/{id}"),
        ws.requests("GET /v1beta/models/{model}"),
    )

    plan = ws.cli("plan")
    applied = ws.apply()

    for result in (plan, applied):
        assert result.returncode == 1
        assert result.stderr.startswith(
            "Error: 2 creates cannot succeed, so nothing is changed: "
            f"TunedModel/alpha: base model {UNTUNABLE} cannot be tuned"
        ), result.stderr
        assert f"TunedModel/beta: base model {UNTUNABLE} cannot be tuned" in result.stderr
    assert ws.live() == before
    assert ws.requests("DELETE /v1beta/tunedModels/{id}") == deletes
    # one lookup of the one distinct base model per command, not one per model
    assert ws.requests("GET /v1beta/models/{model}") - lookups == 2


def test_a_missing_source_model_is_a_plan_error(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("child", source="tunedModels/nowhere"))

    result = ws.cli("plan")

    assert result.returncode == 1
    assert "TunedModel/child: source model tunedModels/nowhere does not exist" in result.stderr, (
        result.stderr
    )
    assert ws.apply().returncode == 1
    assert ws.live() == {}


def test_a_source_created_in_the_same_plan_passes(ws: Workspace) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        tuned_model("parent"),
        tuned_model("child", source="parent"),
    )
    assert ws.kinds() == {"parent": "create", "child": "create"}
    result = ws.apply()
    assert result.returncode == 0, result.stderr
    assert {m: live["state"] for m, live in ws.live().items()} == {
        "parent": "ACTIVE",
        "child": "ACTIVE",
    }
