"""Saved plans: round trip, what they never contain, and every reason a saved plan goes stale."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from reconciler.errors import PlanError, SourceLocation, StalePlanError
from reconciler.live import LiveModel
from reconciler.plan import Plan, make_plan
from reconciler.planfile import SavedPlan, check_saved_plan, plan_from_saved, plan_to_saved
from reconciler.spec import DesiredState, Example, LoadedDataset
from tests.plan.cases import CASES_DIR, case_inputs, load_case

CASE: dict[str, Any] = {
    "manifests": [
        {"name": "fresh"},
        {"name": "shared", "displayName": "Shared", "readerProjectNumbers": ["111", "222"]},
        {"name": "tuning"},
    ],
    "live": [
        {"id": "shared", "display_name": "Old", "reader_project_numbers": ["111"]},
        {"id": "tuning", "state": "CREATING", "update_time": "2024-05-01T10:00:00Z"},
        {"id": "removed", "update_time": "2024-04-01T00:00:00Z"},
    ],
    "state": {
        "lineage": "11111111-2222-4333-8444-555555555555",
        "serial": 4,
        "models": {
            "shared": {"applied": {}},
            "tuning": {"applied": {}, "operation": "tunedModels/tuning/operations/op1"},
            "removed": {"applied": {}},
        },
    },
}


@pytest.fixture
def inputs() -> dict[str, Any]:
    return case_inputs(CASE)


@pytest.fixture
def plan(inputs: dict[str, Any]) -> Plan:
    return make_plan(**inputs)


def _saved(plan: Plan) -> SavedPlan:
    document = json.loads(json.dumps(plan_to_saved(plan, manifest_paths=["manifests/"])))
    return plan_from_saved(document)


def _hashes(plan: Plan) -> dict[str, str]:
    return {a.dataset.name: a.dataset.hash for a in plan.actions if a.dataset and a.dataset.hash}


def test_round_trip_through_json_gives_the_same_plan(plan: Plan) -> None:
    saved = _saved(plan)
    assert saved.plan == plan
    assert saved.manifest_paths == ("manifests/",)
    assert saved.dataset_hashes == {
        "fresh-data": "sha256:fresh",
        "shared-data": "sha256:shared",
        "tuning-data": "sha256:tuning",
        "removed-data": "sha256:removed",
    }
    update = next(a for a in saved.plan.actions if a.model == "shared")
    assert update.update_mask == ("displayName", "readerProjectNumbers")
    assert update.changes[1].after == ("111", "222")


def test_a_create_before_destroy_plan_keeps_its_generations_through_a_saved_plan() -> None:
    path = CASES_DIR / "create-before-destroy-failed-inputs-changed-tunes-again.yaml"
    plan = make_plan(**case_inputs(load_case(path)))
    [action] = plan.actions
    assert (action.successor, action.cleanup) == (
        "tunedModels/increment-3",
        ("tunedModels/increment-2",),
    )
    assert _saved(plan).plan == plan


def test_saved_plan_records_what_apply_needs(plan: Plan) -> None:
    document = plan_to_saved(plan, manifest_paths=["manifests/"])
    assert document["formatVersion"] == 1
    assert document["state"] == {"lineage": "11111111-2222-4333-8444-555555555555", "serial": 4}
    create = next(a for a in document["actions"] if a["model"] == "fresh")
    assert create["action"] == "create"
    assert create["spec"]["baseModel"] == "models/gemini-1.5-flash-001-tuning"
    assert create["spec"]["dataset"] == {
        "name": "fresh-data",
        "hash": "sha256:fresh",
        "examples": 10,
    }
    assert create["live"] is None
    removed = next(a for a in document["actions"] if a["model"] == "removed")
    assert removed["live"] == {"updateTime": "2024-04-01T00:00:00Z", "state": "ACTIVE"}


def test_saved_plan_never_holds_examples_or_credentials(inputs: dict[str, Any]) -> None:
    secret_example = Example(text_input="PRIVATE-INPUT-7f3a", output="PRIVATE-OUTPUT-9c1d")
    desired: DesiredState = inputs["desired"]
    with_data = DesiredState(
        models=desired.models,
        datasets={
            "fresh-data": LoadedDataset(
                name="fresh-data",
                hash="sha256:fresh",
                examples=(secret_example,),
                location=SourceLocation(file="manifests/data.yaml"),
            )
        },
    )
    plan = make_plan(**{**inputs, "desired": with_data})
    text = json.dumps(plan_to_saved(plan, manifest_paths=["manifests/"]))
    assert "PRIVATE-INPUT-7f3a" not in text
    assert "PRIVATE-OUTPUT-9c1d" not in text
    assert 'examples": [' not in text
    for word in ("apiKey", "api_key", "x-goog-api-key", "accessToken", "Bearer"):
        assert word not in text


def test_fresh_plan_passes_the_check(inputs: dict[str, Any], plan: Plan) -> None:
    check_saved_plan(
        _saved(plan), state=inputs["state"], live=inputs["live"], dataset_hashes=_hashes(plan)
    )


def test_a_wait_tolerates_its_tuning_finishing(inputs: dict[str, Any], plan: Plan) -> None:
    live = [
        dataclasses.replace(m, state="ACTIVE", update_time="2024-05-01T11:00:00Z")
        if m.id == "tuning"
        else m
        for m in inputs["live"]
    ]
    check_saved_plan(_saved(plan), state=inputs["state"], live=live, dataset_hashes=_hashes(plan))


def _stale_message(saved: SavedPlan, **kwargs: Any) -> str:
    with pytest.raises(StalePlanError) as raised:
        check_saved_plan(saved, **kwargs)
    assert raised.value.hint == "run `reconciler plan --out FILE` again and apply the new plan"
    return str(raised.value)


def test_stale_when_the_state_serial_moved(inputs: dict[str, Any], plan: Plan) -> None:
    state = inputs["state"].model_copy(update={"serial": 5})
    message = _stale_message(
        _saved(plan), state=state, live=inputs["live"], dataset_hashes=_hashes(plan)
    )
    assert message == "saved plan is stale: the state changed (serial 4 -> 5)"


def test_stale_when_the_state_is_another_lineage(inputs: dict[str, Any], plan: Plan) -> None:
    state = inputs["state"].model_copy(update={"lineage": "99999999-0000-4000-8000-000000000000"})
    message = _stale_message(
        _saved(plan), state=state, live=inputs["live"], dataset_hashes=_hashes(plan)
    )
    assert message == (
        "saved plan is stale: the state is a different one "
        "(lineage 11111111-2222-4333-8444-555555555555 -> 99999999-0000-4000-8000-000000000000)"
    )


def _live_without(inputs: dict[str, Any], model_id: str) -> list[LiveModel]:
    return [m for m in inputs["live"] if m.id != model_id]


def test_stale_when_a_live_model_was_deleted(inputs: dict[str, Any], plan: Plan) -> None:
    message = _stale_message(
        _saved(plan),
        state=inputs["state"],
        live=_live_without(inputs, "removed"),
        dataset_hashes=_hashes(plan),
    )
    assert message == "saved plan is stale: tunedModels/removed was deleted"


def test_stale_when_a_model_appeared(inputs: dict[str, Any], plan: Plan) -> None:
    live = [*inputs["live"], LiveModel(name="tunedModels/fresh", state="CREATING")]
    message = _stale_message(
        _saved(plan), state=inputs["state"], live=live, dataset_hashes=_hashes(plan)
    )
    assert message == "saved plan is stale: tunedModels/fresh appeared (state CREATING)"


def test_stale_when_a_live_model_was_modified(inputs: dict[str, Any], plan: Plan) -> None:
    live = [
        dataclasses.replace(m, display_name="Edited", update_time="2024-05-02T09:00:00Z")
        if m.id == "shared"
        else m
        for m in inputs["live"]
    ]
    message = _stale_message(
        _saved(plan), state=inputs["state"], live=live, dataset_hashes=_hashes(plan)
    )
    assert message == (
        "saved plan is stale: tunedModels/shared was modified "
        "(updateTime 2024-05-01T10:00:00Z -> 2024-05-02T09:00:00Z)"
    )


def test_stale_when_a_live_model_changed_state(inputs: dict[str, Any], plan: Plan) -> None:
    live = [
        dataclasses.replace(m, state="FAILED") if m.id == "shared" else m for m in inputs["live"]
    ]
    message = _stale_message(
        _saved(plan), state=inputs["state"], live=live, dataset_hashes=_hashes(plan)
    )
    assert message == "saved plan is stale: tunedModels/shared state changed from ACTIVE to FAILED"


def test_stale_when_a_dataset_changed_or_vanished(inputs: dict[str, Any], plan: Plan) -> None:
    hashes = {**_hashes(plan), "fresh-data": "sha256:edited"}
    del hashes["shared-data"]
    message = _stale_message(
        _saved(plan), state=inputs["state"], live=inputs["live"], dataset_hashes=hashes
    )
    assert message == (
        "saved plan is stale: dataset fresh-data changed (sha256:fresh -> sha256:edited); "
        "dataset shared-data is no longer in the manifests"
    )


def test_every_staleness_is_reported_at_once(inputs: dict[str, Any], plan: Plan) -> None:
    state = inputs["state"].model_copy(update={"serial": 9})
    message = _stale_message(
        _saved(plan), state=state, live=_live_without(inputs, "removed"), dataset_hashes={}
    )
    assert message.startswith(
        "saved plan is stale: the state changed (serial 4 -> 9); tunedModels/removed was deleted; "
    )
    assert message.count("no longer in the manifests") == 4


def test_foreign_newer_or_damaged_documents_are_refused(plan: Plan) -> None:
    document = plan_to_saved(plan, manifest_paths=[])
    with pytest.raises(PlanError, match="not a saved plan"):
        plan_from_saved({"formatVersion": 1, "lineage": "x"})
    with pytest.raises(PlanError, match="saved plan formatVersion 2 is not supported"):
        plan_from_saved({**document, "formatVersion": 2})
    with pytest.raises(PlanError, match="saved plan is damaged"):
        plan_from_saved({**document, "actions": [{"model": "x"}]})
    with pytest.raises(PlanError, match="saved plan is damaged"):
        plan_from_saved({**document, "actions": [{**document["actions"][0], "action": "explode"}]})


def test_a_wait_whose_tuning_finished_matches_the_plan_made_now(inputs: dict[str, Any]) -> None:
    from reconciler.plan.compare import first_difference

    saved = make_plan(**inputs)
    finished = [
        dataclasses.replace(m, state="ACTIVE", update_time="2024-05-01T11:00:00Z")
        if m.name == "tunedModels/tuning"
        else m
        for m in inputs["live"]
    ]
    now = make_plan(**{**inputs, "live": finished})

    assert next(a for a in saved.actions if a.model == "tuning").kind.value == "wait"
    assert first_difference(saved, now) is None
    assert first_difference(now, saved) is not None  # a noop does not become a wait
