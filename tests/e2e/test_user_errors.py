"""Mistakes and accidents a user meets with plan/apply/import/wait/destroy, through the CLI.

Each test checks what the user sees (the ``Error:`` line naming the model and
the way out, the exit code) and that the state and the live models are left
consistent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import REPO_ROOT, run_cli


def test_import_under_a_different_name_is_refused_and_changes_nothing(ws: Workspace) -> None:
    ws.create_out_of_band("legacy-7")
    ws.write(dataset("numbers", NUMBERS), tuned_model("legacy"))

    result = ws.cli("import", "legacy", "tunedModels/legacy-7")

    assert result.returncode == 1
    assert (
        "Error: tunedModels/legacy-7 cannot be managed as TunedModel/legacy: "
        "a manifest's metadata.name is its tunedModelId (tunedModels/legacy)"
    ) in result.stderr
    assert "reconciler import legacy-7 tunedModels/legacy-7" in result.stderr
    assert ws.cli("state", "list").stdout.strip() == ""
    assert set(ws.live()) == {"legacy-7"}


def _as_interrupted_create(ws: Workspace, name: str) -> None:
    """Rewrite the state as a run killed after recording its intent, before the POST."""
    doc = ws.state_doc()
    record = doc["models"][name]
    record.update(pendingCreate=record["applied"], applied=None, operation=None)
    Path(ws.state).write_text(json.dumps(doc), encoding="utf-8")


def test_wait_on_a_create_that_never_reached_the_api_points_to_apply(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    assert ws.apply().returncode == 0
    ws.delete_out_of_band("alpha")
    _as_interrupted_create(ws, "alpha")

    result = ws.cli("wait", "--poll-interval", "0.05s")

    assert result.returncode == 1
    assert (
        "TunedModel/alpha: its create never reached the API (an interrupted apply); "
        "`reconciler apply` creates it"
    ) in result.stdout
    assert "Error: 1 of 1 models did not become ACTIVE: alpha" in result.stderr
    record = ws.state_doc()["models"]["alpha"]
    assert record["applied"] is None and record["pendingCreate"] is not None
    action = ws.actions()["alpha"]
    assert (action["action"], action["reasons"]) == (
        "create",
        ["interrupted create never reached the API"],
    )


def test_wait_on_a_model_deleted_by_hand_says_apply_recreates_it(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", epochs=50))
    assert ws.apply("--no-wait").returncode == 0
    ws.delete_out_of_band("alpha")

    result = ws.cli("wait", "--poll-interval", "0.05s")

    assert result.returncode == 1
    assert (
        "TunedModel/alpha: deleted outside the reconciler; `reconciler apply` recreates it"
    ) in result.stdout
    assert ws.state_doc()["models"]["alpha"]["lastError"] is None
    assert ws.kinds() == {"alpha": "recreate"}


def test_ctrl_c_during_apply_keeps_the_operation_and_the_next_apply_finishes(
    ws: Workspace,
) -> None:
    ws.emulator.configure(stepSeconds=3600)  # 6 steps; the clock moves only when told
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", epochs=4))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GEMINI_"))}
    env.update(ws.env(), NO_COLOR="1", PYTHONPATH=str(REPO_ROOT))
    argv = ws.argv("apply", "--auto-approve", "--poll-interval", "0.05s")
    with subprocess.Popen(
        [sys.executable, "-m", "reconciler", *argv],
        cwd=ws.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as apply:
        try:
            assert apply.stdout is not None
            for line in apply.stdout:  # interrupt once the create was sent
                if "TunedModel/alpha: tuning" in line:
                    break
            apply.send_signal(signal.SIGINT)
            _, stderr = apply.communicate(timeout=60)
        finally:
            apply.kill()

    assert apply.returncode == 1
    assert (
        "Error: apply interrupted; the state is saved; still tuning on the server: alpha"
    ) in stderr
    assert "run `reconciler apply` again to finish" in stderr
    record = ws.state_doc()["models"]["alpha"]
    assert record["operation"].startswith("tunedModels/alpha/operations/")
    assert not Path(ws.state + ".lock").exists()
    assert ws.kinds() == {"alpha": "wait"}
    ws.emulator.advance(6 * 3600)

    again = ws.apply()

    assert again.returncode == 0, again.stderr
    assert ws.live()["alpha"]["state"] == "ACTIVE"
    assert ws.creates() == {"alpha": 1}
    assert ws.state_doc()["models"]["alpha"]["operation"] is None


def test_a_global_option_after_the_command_says_where_it_goes(tmp_path: Path) -> None:
    misplaced = run_cli("destroy", "--auto-approve", "--state", "other.json", cwd=tmp_path)
    unknown = run_cli("plan", "--bogus", cwd=tmp_path)

    assert misplaced.returncode == 2
    assert misplaced.stderr == (
        "Error: --state is a global option: give it before the command, "
        "e.g. `reconciler --state ... destroy ...`\n"
    )
    assert not (tmp_path / "other.json").exists()
    assert unknown.returncode == 2
    assert "No such option '--bogus'" in unknown.stderr


def test_without_a_credential_manifest_errors_come_first(tmp_path: Path) -> None:
    # No key and the real API's endpoint: nothing is sent either way.
    ws = tmp_path / "manifests"
    ws.mkdir()
    broken = tuned_model("alpha") | {"spec": {**tuned_model("alpha")["spec"], "displayNme": "x"}}
    (ws / "models.yaml").write_text(
        json.dumps(dataset("numbers", NUMBERS)) + "\n---\n" + json.dumps(broken)
    )

    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"]):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith("Error: manifests/models.yaml:"), result.stderr
        assert "displayNme" in result.stderr

    (ws / "models.yaml").write_text(
        json.dumps(dataset("numbers", NUMBERS)) + "\n---\n" + json.dumps(tuned_model("alpha"))
    )
    result = run_cli("plan", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no API key")
