"""Edge cases of plan/apply/destroy through the real CLI against a served emulator.

A timeout while tuning, a destroy after a hand deletion, a change of parent, a
saved plan applied elsewhere, a PATCH the API keeps refusing and a mistyped
``--target``: each checks what the user sees, the state and the live models.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.e2e.refusing_proxy import refusing_proxy
from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import run_cli

POST = "POST /v1beta/tunedModels"
PATCH = "PATCH /v1beta/tunedModels/{id}"


def test_apply_timeout_keeps_the_operation_and_wait_finishes_it(ws: Workspace) -> None:
    # An hour a step on the emulator's clock, which moves only when told: the
    # model is still tuning whenever the plan below runs, however loaded the machine.
    ws.emulator.configure(stepSeconds=3600)
    ws.write(dataset("numbers", NUMBERS), tuned_model("slow", epochs=2))

    result = ws.apply("--timeout", "0.3s")

    assert result.returncode == 1
    assert (
        "Error: timed out waiting for tuning; the operations are kept in state: "
        "1 created, 0 updated, 0 replaced, 0 deleted; 0 failed, 0 skipped, 1 still tuning."
    ) in result.stderr
    assert "Apply complete" not in result.stdout + result.stderr
    operation = ws.state_doc()["models"]["slow"]["operation"]
    assert operation.startswith("tunedModels/slow/operations/")
    assert ws.live()["slow"]["state"] == "CREATING"
    assert ws.kinds() == {"slow": "wait"}
    ws.emulator.advance(3 * 3600)  # 3 steps: done
    waited = ws.cli("wait", "--poll-interval", "0.05s")
    assert waited.returncode == 0, waited.stderr
    assert "TunedModel/slow: ACTIVE" in waited.stdout
    assert ws.state_doc()["models"]["slow"]["operation"] is None
    assert ws.creates() == {"slow": 1}
    assert ws.kinds() == {"slow": "noop"}


def test_apply_help_says_what_a_timeout_leaves_behind(ws: Workspace) -> None:
    result = ws.cli("apply", "--help")

    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "exits 1" in text
    assert "reconciler wait" in text


def test_destroy_after_a_hand_deletion_forgets_the_record(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta"))
    assert ws.apply().returncode == 0
    ws.delete_out_of_band("alpha")

    result = ws.cli("destroy", "--auto-approve")

    assert result.returncode == 0, result.stderr
    assert ws.state_doc()["models"] == {}
    assert ws.live() == {}
    assert ws.cli("state", "list").stdout.strip() == ""


def test_a_new_parent_replaces_the_child_after_the_parent_is_active(ws: Workspace) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        tuned_model("first"),
        tuned_model("child", source="first"),
    )
    assert ws.apply().returncode == 0
    ws.emulator.configure(stepSeconds=0.2)
    ws.write(
        dataset("numbers", NUMBERS),
        tuned_model("first"),
        tuned_model("second"),
        tuned_model("child", source="second"),
    )

    actions = ws.actions()

    assert actions["second"]["action"] == "create"
    assert actions["child"]["action"] == "replace"
    assert any("tunedModelSource" in reason for reason in actions["child"]["reasons"])
    text = ws.cli("plan").stdout
    assert "tunedModelSource" in text
    result = ws.apply()
    assert result.returncode == 0, result.stderr
    live = ws.live()
    assert {m: model["state"] for m, model in live.items()} == {
        "first": "ACTIVE",
        "second": "ACTIVE",
        "child": "ACTIVE",
    }
    assert live["child"]["tunedModelSource"]["tunedModel"] == "tunedModels/second"
    # The API refuses to tune from a model that is still CREATING
    # (FAILED_PRECONDITION), so one successful re-create of child means it was
    # sent after second became ACTIVE.
    assert ws.creates() == {"first": 1, "second": 1, "child": 2}
    record = ws.state_doc()["models"]["child"]
    assert record["applied"]["tunedModelSource"] == "tunedModels/second"
    assert ws.kinds() == {"first": "noop", "second": "noop", "child": "noop"}


def test_a_saved_plan_applied_from_another_directory_says_where_to_run_it(
    ws: Workspace, tmp_path: Path
) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    assert ws.cli("plan", "--out", "tfplan").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    moved = run_cli(
        *ws.argv("apply", "--auto-approve", str(tmp_path / "tfplan")),
        cwd=elsewhere,
        env=ws.env(),
    )

    assert moved.returncode == 1
    errors = [line for line in moved.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, moved.stderr
    assert "manifests" in errors[0]
    assert str(tmp_path) in moved.stderr
    assert "Traceback" not in moved.stderr
    assert ws.live() == {}
    here = ws.apply("tfplan")
    assert here.returncode == 0, here.stderr
    assert ws.creates() == {"alpha": 1}
    help_text = " ".join(ws.cli("apply", "--help").stdout.split())
    assert "directory where the plan was made" in help_text


def test_a_patch_that_keeps_failing_leaves_the_state_and_the_next_apply_updates(
    ws: Workspace,
) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", display_name="Old name"))
    assert ws.apply().returncode == 0
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", display_name="New name"))

    with refusing_proxy(ws.emulator.url, refuse="PATCH") as url:
        through = Workspace(root=ws.root, emulator=replace(ws.emulator, url=url), state=ws.state)
        failed = through.apply()

    assert failed.returncode == 1
    failure = [line for line in failed.stderr.splitlines() if line.startswith("TunedModel/alpha")]
    assert len(failure) == 1, failed.stderr
    assert failure[0].startswith("TunedModel/alpha: failed:")
    assert "403" in failure[0] or "PERMISSION_DENIED" in failure[0]
    assert "The caller does not have permission" in failure[0]
    assert "Error: Apply finished with errors: 0 created, 0 updated" in failed.stderr
    assert "1 failed" in failed.stderr
    assert ws.state_doc()["models"]["alpha"]["applied"]["displayName"] == "Old name"
    assert ws.live()["alpha"]["displayName"] == "Old name"
    assert ws.requests(PATCH) == 0
    again = ws.apply()
    assert again.returncode == 0, again.stderr
    assert "1 updated" in again.stdout
    assert ws.requests(PATCH) == 1
    assert ws.live()["alpha"]["displayName"] == "New name"
    assert ws.state_doc()["models"]["alpha"]["applied"]["displayName"] == "New name"
    assert ws.creates() == {"alpha": 1}


def test_plan_with_an_unknown_target_is_one_error_with_a_suggestion(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta"))

    typo = ws.cli("plan", "--target", "alpah")
    nope = ws.cli("plan", "--target", "nope")

    for result in (typo, nope):
        assert result.returncode == 1
        assert result.stdout == ""
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[0].startswith("Error: ")
        assert sum(line.startswith("Error:") for line in lines) == 1
        assert "Traceback" not in result.stderr
    assert "did you mean alpha" in typo.stderr.replace("`", "")
    assert "nope" in nope.stderr
    assert ws.requests(POST) == 0
