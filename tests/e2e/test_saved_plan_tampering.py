"""A saved plan edited after `plan --out` is refused, and changes nothing.

The plan file travels between CI jobs as an artifact; apply plans again from the
file's inputs and carries out only a file that is exactly that plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model

Tamper = Callable[[dict[str, Any], dict[str, dict[str, Any]]], None]


def _action(plan: dict[str, Any], model: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in plan["actions"] if a["model"] == model)
    return found


def _update_into_delete(plan: dict[str, Any], live: dict[str, dict[str, Any]]) -> None:
    alpha = _action(plan, "alpha")
    alpha.update(action="delete", updateMask=[], changes=[], reasons=["removed"])


def _delete_an_unmanaged_model(plan: dict[str, Any], live: dict[str, dict[str, Any]]) -> None:
    stranger = live["stranger"]
    plan["actions"].append(
        {
            "model": "stranger",
            "address": "TunedModel/stranger",
            "name": "tunedModels/stranger",
            "action": "delete",
            "reasons": ["removed from the manifests"],
            "live": {"updateTime": stranger["updateTime"], "state": stranger["state"]},
        }
    )


def _update_pointed_at_another_model(plan: dict[str, Any], live: dict[str, dict[str, Any]]) -> None:
    alpha = _action(plan, "alpha")
    alpha["name"] = "tunedModels/stranger"
    alpha["live"] = {
        "updateTime": live["stranger"]["updateTime"],
        "state": live["stranger"]["state"],
    }


def _widened_update_mask(plan: dict[str, Any], live: dict[str, dict[str, Any]]) -> None:
    alpha = _action(plan, "alpha")
    alpha["updateMask"] = ["displayName", "description"]
    alpha["changes"].append({"path": "description", "before": None, "after": "pwned"})


def _edited_spec(plan: dict[str, Any], live: dict[str, dict[str, Any]]) -> None:
    _action(plan, "alpha")["spec"]["displayName"] = "Pwned"


CASES: dict[str, tuple[Tamper, str]] = {
    "update-turned-into-delete": (
        _update_into_delete,
        'TunedModel/alpha: action is "delete" in the plan file but "update" when planned now',
    ),
    "appended-delete-of-an-unmanaged-model": (
        _delete_an_unmanaged_model,
        'TunedModel/stranger: the plan file has a "delete" action that is not planned now',
    ),
    "update-pointed-at-another-model": (
        _update_pointed_at_another_model,
        'TunedModel/alpha: name is "tunedModels/stranger" in the plan file '
        'but "tunedModels/alpha" when planned now',
    ),
    "widened-update-mask": (
        _widened_update_mask,
        'TunedModel/alpha: updateMask is ["displayName", "description"] in the plan file '
        'but ["displayName"] when planned now',
    ),
    "edited-spec": (
        _edited_spec,
        'TunedModel/alpha: spec.displayName is "Pwned" in the plan file '
        'but "Renamed" when planned now',
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_edited_saved_plan_is_refused_and_changes_nothing(ws: Workspace, case: str) -> None:
    tamper, difference = CASES[case]
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta"))
    assert ws.apply().returncode == 0
    ws.create_out_of_band("stranger", display_name="Not managed here")
    ws.write(
        dataset("numbers", NUMBERS),
        tuned_model("alpha", display_name="Renamed"),
        tuned_model("beta"),
    )
    assert ws.cli("plan", "--out", "tfplan").returncode == 0
    plan_file = Path(ws.root / "tfplan")
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    before = ws.live()
    tamper(plan, before)
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    serial = ws.state_doc()["serial"]

    result = ws.apply("tfplan")

    assert result.returncode == 1, result.stdout
    assert "Error: saved plan does not match what its manifests, state and live models" in (
        result.stderr
    )
    assert difference in result.stderr
    assert "make the plan again" in result.stderr
    assert ws.live() == before  # nothing deleted, patched or created
    assert ws.state_doc()["serial"] == serial


def test_the_untouched_saved_plan_still_applies(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    assert ws.apply().returncode == 0
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", display_name="Renamed"))
    assert ws.cli("plan", "--out", "tfplan", "--target", "alpha").returncode == 0

    result = ws.apply("tfplan")

    assert result.returncode == 0, result.stderr
    assert "Apply complete: 0 created, 1 updated" in result.stdout
    assert ws.live()["alpha"]["displayName"] == "Renamed"
