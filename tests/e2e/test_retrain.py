"""Retraining safely, through the CLI against a served emulator.

A replace must never delete a serving model whose successor cannot be made:
plan asks the API first (base model tunable, source present and ACTIVE).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import serve_emulator

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


def create_before_destroy(doc: dict[str, Any]) -> dict[str, Any]:
    doc["spec"]["lifecycle"] = {"replacement": "createBeforeDestroy"}
    return doc


class ServingWatcher:
    """Polls the API from another thread: is a generation of ``name`` ACTIVE at every poll?"""

    def __init__(self, ws: Workspace, name: str) -> None:
        self.ws, self.name = ws, name
        self.seen: list[tuple[str, ...]] = []  # the ACTIVE generations, per poll
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def generations(self, live: dict[str, dict[str, Any]]) -> tuple[str, ...]:
        return tuple(
            sorted(
                model_id
                for model_id, model in live.items()
                if (model_id == self.name or model_id.startswith(f"{self.name}-"))
                and model["state"] == "ACTIVE"
            )
        )

    def run(self) -> None:
        while not self.stop.is_set():
            self.seen.append(self.generations(self.ws.live()))
            self.stop.wait(0.02)

    def __enter__(self) -> ServingWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def test_a_create_before_destroy_retrain_keeps_a_model_serving_throughout(
    ws: Workspace,
) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        create_before_destroy(tuned_model("alpha")),
        tuned_model("child", source="alpha"),
    )
    assert ws.apply().returncode == 0
    ws.emulator.configure(stepSeconds=0.3)  # alpha-2 tunes for a few polls
    ws.write(
        dataset("numbers", NUMBERS),
        create_before_destroy(tuned_model("alpha", epochs=3)),
        tuned_model("child", source="alpha"),
    )

    plan = ws.cli("plan")
    assert plan.returncode == 0, plan.stderr
    assert (
        "creates tunedModels/alpha-2; once it is ACTIVE it serves and tunedModels/alpha is deleted"
        in plan.stdout
    ), plan.stdout
    assert "createBeforeDestroy: tunedModels/alpha-2 tunes while tunedModels/alpha serves" in (
        plan.stdout
    )
    with ServingWatcher(ws, "alpha") as watcher:
        result = ws.apply()

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(watcher.seen) > 5 and all(watcher.seen), watcher.seen
    assert ("alpha", "alpha-2") in watcher.seen  # both served while the new one took over
    assert ws.cli("output", "alpha").stdout == "tunedModels/alpha-2\n"
    live = ws.live()
    assert sorted(live) == ["alpha-2", "child"]
    assert live["child"]["tunedModelSource"]["tunedModel"] == "tunedModels/alpha-2"
    assert ws.kinds() == {"alpha-2": "noop", "child": "noop"}
    assert ws.creates() == {"alpha": 1, "alpha-2": 1, "child": 2}
    record = ws.state_doc()["models"]["alpha"]
    assert (record["name"], record["generation"], record["candidate"], record["retired"]) == (
        "tunedModels/alpha-2",
        2,
        None,
        [],
    )


def test_a_failed_candidate_is_not_promoted_is_reported_and_removed_next_time(
    tmp_path: Path,
) -> None:
    # Seed 71 at a 50% failure rate: the first tuning succeeds, the second fails,
    # the third succeeds.
    with serve_emulator(
        "--step-seconds", "0", "--seed", "71", "--tuning-fail-rate", "0.5"
    ) as emulator:
        ws = Workspace(root=tmp_path, emulator=emulator)
        ws.write(dataset("numbers", NUMBERS), create_before_destroy(tuned_model("alpha")))
        assert ws.apply().returncode == 0
        ws.write(dataset("numbers", NUMBERS), create_before_destroy(tuned_model("alpha", epochs=2)))

        failed = ws.apply()

        assert failed.returncode == 1
        assert "TunedModel/alpha: failed: tuning failed" in failed.stderr, failed.stderr
        assert "tunedModels/alpha-2 is not promoted" in failed.stderr
        assert ws.cli("output", "alpha").stdout == "tunedModels/alpha\n"
        assert {m: live["state"] for m, live in ws.live().items()} == {
            "alpha": "ACTIVE",
            "alpha-2": "FAILED",
        }
        inventory = json.loads(ws.cli("inventory", "--format", "json").stdout)
        rows = {row["name"]: row for row in inventory["models"]}
        assert rows["tunedModels/alpha-2"]["status"] == "failed"
        assert rows["tunedModels/alpha-2"]["generation"] == "candidate"
        assert rows["tunedModels/alpha-2"]["address"] == "TunedModel/alpha"
        assert rows["tunedModels/alpha"]["generation"] == "serving"
        [action] = ws.plan_json()["actions"]
        assert (action["action"], action["successor"], action["cleanup"]) == (
            "replace",
            "tunedModels/alpha-3",
            ["tunedModels/alpha-2"],
        )

        again = ws.apply()

        assert again.returncode == 0, again.stderr
        assert sorted(ws.live()) == ["alpha-3"]
        assert ws.cli("output", "--format", "json").stdout.split() == [
            "{",
            '"alpha":',
            '"tunedModels/alpha-3"',
            "}",
        ]
        assert ws.kinds() == {"alpha-3": "noop"}
        assert ws.creates() == {"alpha": 1, "alpha-2": 1, "alpha-3": 1}
