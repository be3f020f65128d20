"""Saved plans, confirmation, --no-wait / wait, failed tuning, partial failure, secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.workspace import API_KEY, NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import REPO_ROOT, serve_emulator


def test_a_saved_plan_applies_once_and_is_refused_when_stale(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    saved = ws.cli("plan", "--out", "tfplan")
    assert saved.returncode == 0, saved.stderr

    first = ws.apply("tfplan")
    again = ws.apply("tfplan")

    assert first.returncode == 0, first.stderr
    assert "Apply complete: 1 created" in first.stdout
    assert again.returncode == 1
    assert "Error: saved plan is stale: the state changed" in again.stderr
    assert ws.creates() == {"alpha": 1}

    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", display_name="Renamed"))
    assert ws.cli("plan", "--out", "tfplan").returncode == 0
    ws.patch_out_of_band("alpha", displayName="Changed meanwhile")
    stale = ws.apply("tfplan")
    assert stale.returncode == 1
    assert "saved plan is stale" in stale.stderr
    assert "tunedModels/alpha was modified" in stale.stderr
    assert ws.live()["alpha"]["displayName"] == "Changed meanwhile"


def test_apply_without_a_terminal_refuses_to_prompt(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))

    result = ws.cli("apply")

    assert result.returncode == 1
    assert "Error: apply needs confirmation, but there is no terminal to ask on" in result.stderr
    assert "--auto-approve" in result.stderr
    assert ws.live() == {}
    assert ws.stats()["creates"] == {}


def test_no_wait_returns_while_tuning_and_wait_follows_it_to_active(ws: Workspace) -> None:
    ws.emulator.configure(stepSeconds=3600)  # 6 steps; the clock moves only when told
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", epochs=4))

    started = ws.apply("--no-wait")

    assert started.returncode == 0, started.stderr
    assert "1 still tuning" in started.stdout
    assert ws.live()["alpha"]["state"] == "CREATING"
    record = ws.state_doc()["models"]["alpha"]
    assert record["operation"].startswith("tunedModels/alpha/operations/")
    assert ws.kinds() == {"alpha": "wait"}
    ws.emulator.advance(6 * 3600)
    waited = ws.cli("wait", "--poll-interval", "0.05s")
    assert waited.returncode == 0, waited.stderr
    assert "TunedModel/alpha: ACTIVE" in waited.stdout
    assert ws.state_doc()["models"]["alpha"]["operation"] is None
    assert ws.live()["alpha"]["state"] == "ACTIVE"
    assert ws.creates() == {"alpha": 1}


def test_wait_leaves_a_record_another_command_changed_while_it_waited(
    ws: Workspace, tmp_path: Path
) -> None:
    ws.emulator.configure(stepSeconds=3600)  # 6 steps; the clock moves only when told
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", epochs=4))
    assert ws.apply("--no-wait").returncode == 0
    log = tmp_path / "wait.log"
    with log.open("wb") as sink:
        waiting = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *ws.argv("wait", "--poll-interval", "0.05s")],
            cwd=ws.root,
            env={
                **{
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith(("RECONCILER_", "GEMINI_"))
                },
                **ws.env(),
                "NO_COLOR": "1",
                "PYTHONPATH": str(REPO_ROOT),
            },
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30  # until wait has read the state and follows alpha
        while b"TunedModel/alpha: tuning" not in log.read_bytes():
            assert waiting.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        # Meanwhile another command records a different operation for alpha
        # (as an apply that replaced it would): `state push` of an edited copy.
        pulled = json.loads(ws.cli("state", "pull").stdout)
        pulled["models"]["alpha"]["operation"] = "tunedModels/alpha/operations/newer"
        edited = tmp_path / "edited.json"
        edited.write_text(json.dumps(pulled))
        pushed = ws.cli("state", "push", "--force", str(edited))
        still_waiting = waiting.poll() is None
        ws.emulator.advance(6 * 3600)  # now alpha finishes
        code = waiting.wait(timeout=60)
    finally:
        waiting.kill()

    assert pushed.returncode == 0, pushed.stderr
    assert still_waiting, "alpha finished tuning before the state was changed"
    assert code == 0, log.read_text()
    assert "TunedModel/alpha: ACTIVE" in log.read_text()
    record = ws.state_doc()["models"]["alpha"]
    assert record["operation"] == "tunedModels/alpha/operations/newer"  # kept, not cleared
    assert record["createTime"] is None


def test_wait_with_a_short_timeout_exits_1_and_keeps_the_operation(ws: Workspace) -> None:
    ws.emulator.configure(stepSeconds=30)
    ws.write(dataset("numbers", NUMBERS), tuned_model("slow"))
    assert ws.apply("--no-wait").returncode == 0
    operation = ws.state_doc()["models"]["slow"]["operation"]

    result = ws.cli("wait", "--timeout", "0.2s", "--poll-interval", "0.05s")

    assert result.returncode == 1
    assert "still tuning at --timeout" in result.stdout
    assert "Error: 1 of 1 models did not become ACTIVE" in result.stderr
    assert ws.state_doc()["models"]["slow"]["operation"] == operation


def test_a_failed_tuning_is_reported_and_the_next_plan_replaces_it(ws: Workspace) -> None:
    ws.emulator.configure(tuningFailRate=1)
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))

    result = ws.apply()

    assert result.returncode == 1
    assert "TunedModel/alpha: failed: tuning failed: the training job stopped" in result.stderr
    assert "Tuning failed" not in result.stderr  # the API's own words are not repeated
    assert "Error: Apply finished with errors: 1 created" not in result.stderr
    assert "1 failed" in result.stderr
    assert ws.live()["alpha"]["state"] == "FAILED"
    record = ws.state_doc()["models"]["alpha"]
    assert record["operation"] is None
    assert record["lastError"] == (
        "tuning failed: the training job stopped with an internal error."
    )
    action = ws.actions()["alpha"]
    assert action["action"] == "replace"
    assert len(action["reasons"]) == 1
    assert action["reasons"][0].startswith("live model is FAILED")


def test_one_failure_skips_its_dependants_but_not_an_unrelated_branch(tmp_path: Path) -> None:
    # Seed 12 at a 50% failure rate: the first tuning fails, the next two succeed;
    # one request at a time makes broken, good and good-child the creates in that order.
    with serve_emulator(
        "--step-seconds", "0", "--seed", "12", "--tuning-fail-rate", "0.5"
    ) as emulator:
        ws = Workspace(root=tmp_path, emulator=emulator)
        ws.write(
            dataset("numbers", NUMBERS),
            tuned_model("broken"),
            tuned_model("child", source="broken"),
            tuned_model("good"),
            tuned_model("good-child", source="good"),
        )

        result = ws.apply("--parallelism", "1")

        assert result.returncode == 1
        assert "TunedModel/broken: failed: tuning failed" in result.stderr
        assert "TunedModel/child: skipped: broken failed" in result.stderr
        assert (
            "Error: Apply finished with errors: 2 created, 0 updated, 0 replaced, 0 deleted; "
            "1 failed, 1 skipped, 0 still tuning." in result.stderr
        )
        assert {m: live["state"] for m, live in ws.live().items()} == {
            "broken": "FAILED",
            "good": "ACTIVE",
            "good-child": "ACTIVE",
        }
        assert set(ws.state_doc()["models"]) == {"broken", "good", "good-child"}
        assert ws.kinds() == {
            "broken": "replace",
            "child": "create",
            "good": "noop",
            "good-child": "noop",
        }


def test_the_state_never_holds_an_example_or_the_api_key(tmp_path: Path) -> None:
    secret_examples = [("confidential-input-7f3a", "confidential-output-9b2c"), ("x", "y")]
    with serve_emulator("--step-seconds", "0", "--api-key", API_KEY) as server:
        ws = Workspace(root=tmp_path, emulator=server)
        ws.write(dataset("private", secret_examples), tuned_model("alpha", data="private"))

        applied = ws.apply()
        ws.write(
            dataset("private", [*secret_examples, ("confidential-extra-1d4e", "z")]),
            tuned_model("alpha", data="private"),
        )
        replaced = ws.apply()
        planned = ws.cli("plan")
        wrong_key = Workspace(root=tmp_path, emulator=server, api_key="AIzaSy-wrong").cli("plan")

    assert applied.returncode == 0, applied.stderr
    assert replaced.returncode == 0, replaced.stderr
    assert wrong_key.returncode == 1
    assert "API key not valid" in wrong_key.stderr
    written = list((tmp_path / ".reconciler").glob("state.json*"))
    assert {p.name for p in written} >= {"state.json", "state.json.backup"}
    outputs = [r.stdout + r.stderr for r in (applied, replaced, planned, wrong_key)]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in written] + outputs
    for text in texts:
        assert API_KEY not in text
        assert "AIzaSy-wrong" not in text
        assert "confidential" not in text


def test_a_change_made_outside_and_accepted_in_the_manifest_is_recorded_by_apply(
    ws: Workspace,
) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    assert ws.apply().returncode == 0
    ws.patch_out_of_band("alpha", displayName="Renamed by hand")
    assert ws.cli("plan", "--refresh-only", "--detailed-exitcode").returncode == 2

    # Accept it: the manifest now says what the model already has.
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", display_name="Renamed by hand"))
    assert ws.kinds() == {"alpha": "noop"}
    applied = ws.apply()

    assert applied.returncode == 0, applied.stderr
    assert ws.requests("PATCH /v1beta/tunedModels/{id}") == 1  # only the out-of-band one
    assert ws.state_doc()["models"]["alpha"]["applied"]["displayName"] == "Renamed by hand"
    drift = ws.cli("plan", "--refresh-only", "--detailed-exitcode")
    assert drift.returncode == 0, drift.stdout
    assert ws.kinds() == {"alpha": "noop"}
