"""An evaluation gate on a createBeforeDestroy retrain, through the CLI against a served emulator."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.test_eval import GENERATE, evaluation, with_evaluation
from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model

# Answers of a model trained on NUMBERS: exact for these inputs.
CHECK = [("1", "2"), ("seven", "eight"), ("41", "42")]
# The same inputs with other outputs: a model trained on this fails CHECK.
WRONG = [("1", "one"), ("seven", "7"), ("41", "forty-one")]


def create_before_destroy(doc: dict[str, Any]) -> dict[str, Any]:
    doc["spec"]["lifecycle"] = {"replacement": "createBeforeDestroy"}
    return doc


def manifests(ws: Workspace, *, data: str) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        dataset("wrong", WRONG),
        create_before_destroy(with_evaluation(tuned_model("alpha", data=data), "alpha-check")),
        evaluation("alpha-check", CHECK),
    )


def test_a_candidate_below_its_gate_is_not_promoted_and_the_next_apply_cleans_up(
    ws: Workspace,
) -> None:
    manifests(ws, data="numbers")
    assert ws.apply().returncode == 0
    manifests(ws, data="wrong")

    failed = ws.apply()

    assert failed.returncode == 1
    assert "alpha-check below threshold: exactMatch 0.00 < 0.90" in failed.stderr, failed.stderr
    assert "tunedModels/alpha-2 is not promoted" in failed.stderr
    assert ws.cli("output", "alpha").stdout == "tunedModels/alpha\n"  # the old one still serves
    assert {m: live["state"] for m, live in ws.live().items()} == {
        "alpha": "ACTIVE",
        "alpha-2": "ACTIVE",
    }
    evaluations = ws.state_doc()["models"]["alpha"]["evaluations"]
    assert evaluations["tunedModels/alpha"]["passed"] is True
    assert evaluations["tunedModels/alpha-2"]["passed"] is False
    inventory = json.loads(ws.cli("inventory", "--format", "json").stdout)
    rows = {row["name"]: row for row in inventory["models"]}
    assert rows["tunedModels/alpha-2"]["generation"] == "candidate"
    assert rows["tunedModels/alpha-2"]["evaluation"]["passed"] is False
    assert rows["tunedModels/alpha"]["generation"] == "serving"
    [action] = ws.plan_json()["actions"]
    assert "tunedModels/alpha-2" in action["cleanup"]

    manifests(ws, data="numbers")  # back to what passes
    again = ws.apply()

    assert again.returncode == 0, again.stderr
    assert "alpha-2" not in ws.live()
    assert ws.cli("output", "alpha").returncode == 0
    assert ws.requests(GENERATE) > 0


def test_inputs_that_failed_their_gate_are_not_tuned_again_until_asked(ws: Workspace) -> None:
    manifests(ws, data="numbers")
    assert ws.apply().returncode == 0
    manifests(ws, data="wrong")
    assert ws.apply().returncode == 1  # alpha-2 tuned, below its gate, not promoted

    [action] = ws.plan_json()["actions"]
    cleaned = ws.apply()

    assert action["action"] == "noop"
    assert action["cleanup"] == ["tunedModels/alpha-2"]
    assert "not tuned again: tunedModels/alpha-2 was tuned from these inputs" in action["notes"][0]
    assert cleaned.returncode == 0, cleaned.stderr
    assert sorted(ws.live()) == ["alpha"]  # the failed candidate is deleted, nothing retrained
    assert ws.creates() == {"alpha": 1, "alpha-2": 1}
    assert ws.cli("plan", "--detailed-exitcode").returncode == 0  # and it stays that way
    assert "apply --replace alpha" in ws.cli("plan", "--show-unchanged").stdout

    retried = ws.apply("--replace", "alpha")

    assert retried.returncode == 1  # asked for: tuned again (and, same data, below the gate again)
    assert ws.creates() == {"alpha": 1, "alpha-2": 1, "alpha-3": 1}
