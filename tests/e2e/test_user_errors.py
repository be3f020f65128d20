"""Mistakes and accidents a user meets with plan/apply/import/wait/destroy, through the CLI.

Each test checks what the user sees (the ``Error:`` line naming the model and
the way out, the exit code) and that the state and the live models are left
consistent.
"""

from __future__ import annotations

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model


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
