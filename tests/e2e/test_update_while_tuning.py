"""A mutable field edited while the model still tunes is applied at once, not hidden
behind a `wait` until some later apply."""

from __future__ import annotations

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model


def test_a_display_name_edited_while_tuning_is_planned_and_applied(ws: Workspace) -> None:
    ws.emulator.configure(stepSeconds=30)  # stays CREATING for the whole test
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    assert ws.apply("--no-wait").returncode == 0
    operation = ws.state_doc()["models"]["alpha"]["operation"]
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", display_name="Renamed"))

    planned = ws.cli("plan", "--detailed-exitcode")
    applied = ws.apply("--no-wait")

    assert planned.returncode == 2, planned.stderr
    assert "~ update in-place TunedModel/alpha" in planned.stdout
    assert 'displayName: "Alpha" -> "Renamed"' in planned.stdout
    assert applied.returncode == 0, applied.stderr
    assert "0 created, 1 updated" in applied.stdout
    assert "1 still tuning" in applied.stdout
    live = ws.live()["alpha"]
    assert live["displayName"] == "Renamed"
    assert live["state"] == "CREATING"
    assert ws.state_doc()["models"]["alpha"]["operation"] == operation  # still followed
    assert ws.kinds() == {"alpha": "wait"}  # nothing left to do but wait
    assert ws.creates() == {"alpha": 1}
