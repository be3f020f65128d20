"""Planner behaviour the YAML cases do not show: hints, summaries, purity, the titles table."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.diff import FieldChange, desired_vs_applied, desired_vs_live
from reconciler.errors import PlanError
from reconciler.plan import TITLES, ActionKind, make_plan
from tests.plan.cases import case_inputs


def test_every_kind_has_a_title() -> None:
    assert set(TITLES) == set(ActionKind)
    assert [TITLES[k] for k in ActionKind] == [
        "+ create",
        "~ update in-place",
        "-/+ replace",
        "+ recreate",
        "- delete",
        "… wait",
        "? evaluate",
        "  noop",
    ]


def _error(case: dict[str, Any]) -> PlanError:
    with pytest.raises(PlanError) as raised:
        make_plan(**case_inputs(case))
    return raised.value


def test_import_conflict_hint_is_the_import_command() -> None:
    error = _error({"manifests": [{"name": "increment"}], "live": [{"id": "increment"}]})
    assert error.hint == "reconciler import increment tunedModels/increment"


def test_unknown_target_suggests_the_closest_name() -> None:
    error = _error({"manifests": [{"name": "child"}], "options": {"targets": ["chlid"]}})
    assert error.hint == "did you mean `child`?"


def test_unknown_replace_suggests_the_closest_name() -> None:
    error = _error({"manifests": [{"name": "increment"}], "options": {"replace": ["incremnt"]}})
    assert error.hint == "did you mean `increment`?"


def test_summary_counts_every_kind_and_has_changes_ignores_noop() -> None:
    steady = make_plan(
        **case_inputs(
            {
                "manifests": [{"name": "steady"}],
                "live": [{"id": "steady"}],
                "state": {"models": {"steady": {"applied": {}}}},
            }
        )
    )
    assert steady.summary() == {
        "create": 0,
        "update": 0,
        "replace": 0,
        "recreate": 0,
        "delete": 0,
        "wait": 0,
        "evaluate": 0,
        "noop": 1,
    }
    assert not steady.has_changes
    new = make_plan(**case_inputs({"manifests": [{"name": "new"}]}))
    assert new.has_changes


def test_planning_is_pure_and_repeatable() -> None:
    case = {
        "manifests": [{"name": "a", "displayName": "A"}, {"name": "b", "dependsOn": "a"}],
        "live": [{"id": "a", "display_name": "Old"}],
        "state": {"models": {"a": {"applied": {}}, "gone": {"applied": {}}}},
    }
    inputs = case_inputs(case)
    before = copy.deepcopy(inputs)
    assert make_plan(**inputs) == make_plan(**inputs)
    assert inputs["state"] == before["state"]
    assert inputs["live"] == before["live"]


def test_update_spec_keeps_the_applied_inputs() -> None:
    """An update records the manifest's mutable fields over the applied inputs, so an
    imported model's unknown training data stays unknown after a rename."""
    case = {
        "manifests": [
            {"name": "adopted", "displayName": "New", "dataset": {"hash": "sha256:manifest"}}
        ],
        "live": [{"id": "adopted", "display_name": "Old"}],
        "state": {
            "models": {"adopted": {"applied": {"dataset": {"hash": None}}, "imported": True}}
        },
    }
    (action,) = make_plan(**case_inputs(case)).actions
    assert action.kind is ActionKind.UPDATE
    assert action.spec is not None
    assert action.spec.displayName == "New"
    assert action.spec.dataset is not None and action.spec.dataset.hash is None
    assert action.notes == ("training data unknown until the next replace",)


def test_diff_functions_return_field_changes() -> None:
    case = {
        "manifests": [{"name": "m", "topK": 40, "hyperparameters": {"batchSize": 8}}],
        "live": [{"id": "m", "top_k": 64}],
    }
    inputs = case_inputs(case)
    desired = inputs["desired"].models["m"]
    (live,) = inputs["live"]
    assert desired_vs_live(desired, live) == (FieldChange(path="topK", before=64, after=40),)
    applied = desired.spec.model_copy(
        update={"hyperparameters": desired.spec.hyperparameters.model_copy(update={"batchSize": 4})}
    )
    assert desired_vs_applied(desired, applied, live) == (
        FieldChange(path="tuningTask.hyperparameters.batchSize", before=4, after=8),
    )
