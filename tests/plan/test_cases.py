"""Runs every planner case in tests/cases/plan/*.yaml (see tests/plan/cases.py for the format)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PlanError
from reconciler.plan import Action, make_plan
from reconciler.planfile import json_value
from tests.plan.cases import case_files, case_inputs, load_case

MIN_CASES = 30


def _observed(action: Action, expected: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, Any] = {
        "model": action.model,
        "kind": action.kind.value,
        "updateMask": list(action.update_mask),
        "changes": [
            {"path": c.path, "before": json_value(c.before), "after": json_value(c.after)}
            for c in action.changes
        ],
        "reasons": list(action.reasons),
        "notes": list(action.notes),
    }
    if "steps" in expected:
        seen["steps"] = action.estimated_steps
    if "successor" in expected:
        seen["successor"] = action.successor
    if "cleanup" in expected:
        seen["cleanup"] = list(action.cleanup)
    return seen


def _expected(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "updateMask": [],
        "changes": [],
        "reasons": [],
        "notes": [],
        **entry,
    }


def test_there_are_enough_cases() -> None:
    assert len(case_files()) >= MIN_CASES


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_plan_case(path: Path) -> None:
    case = load_case(path)
    inputs = case_inputs(case)
    if "error" in case:
        with pytest.raises(PlanError) as raised:
            make_plan(**inputs)
        assert case["error"] in str(raised.value)
        return
    plan = make_plan(**inputs)
    expected = [_expected(entry) for entry in case["expect"] or []]
    observed = [_observed(a, e) for a, e in zip(plan.actions, expected, strict=False)]
    assert [a.model for a in plan.actions] == [e["model"] for e in expected]
    assert observed == expected
    assert plan.state_serial == inputs["state"].serial
    assert plan.refresh_only == inputs["options"].refresh_only
