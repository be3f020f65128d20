"""The state knows which API its models live in, and refuses to be planned against another.

A state made against an emulator and planned with a forgotten
RECONCILER_ENDPOINT (or the other way round) would call every model "deleted
outside the reconciler" and plan to recreate them all.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model

ELSEWHERE = "https://tuning.example.com"


def _applied(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("adder"))
    result = ws.apply()
    assert result.returncode == 0, result.stderr


def _record(ws: Workspace, **fields: object) -> None:
    doc = ws.state_doc()
    for key, value in fields.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    Path(ws.state).write_text(json.dumps(doc, indent=2), encoding="utf-8")


def test_apply_records_the_backend_and_endpoint(ws: Workspace) -> None:
    _applied(ws)
    doc = ws.state_doc()
    assert doc["backend"] == "gemini"
    assert doc["endpoint"] == ws.emulator.url
    assert "key" not in json.dumps(doc).lower()


def test_a_plan_against_another_api_is_refused_and_changes_nothing(ws: Workspace) -> None:
    _applied(ws)
    _record(ws, endpoint=ELSEWHERE)
    before = Path(ws.state).read_bytes()

    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"]):
        result = ws.cli(*command)
        assert result.returncode == 1, result.stdout
        assert (
            f"Error: the state {ws.state} belongs to the API at {ELSEWHERE}, "
            f"not {ws.emulator.url}: against another API every model it manages would look deleted"
        ) in result.stderr
        assert "--endpoint-moved" in result.stderr
        assert "create" not in result.stdout and "delete" not in result.stdout
    assert Path(ws.state).read_bytes() == before
    assert ws.creates() == {"adder": 1}  # the one create of _applied, nothing since


def test_endpoint_moved_plans_there_and_apply_records_the_move(ws: Workspace) -> None:
    _applied(ws)
    _record(ws, endpoint=ELSEWHERE)

    plan = ws.cli("--endpoint-moved", "plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stderr  # the same models, found where they moved to
    assert ws.state_doc()["endpoint"] == ELSEWHERE  # plan writes nothing

    run = ws.cli("--endpoint-moved", "apply", "--auto-approve")
    assert run.returncode == 0, run.stderr
    assert ws.state_doc()["endpoint"] == ws.emulator.url
    assert ws.cli("plan", "--detailed-exitcode").returncode == 0


def test_a_state_without_an_endpoint_adopts_it_at_the_next_write(ws: Workspace) -> None:
    _applied(ws)
    _record(ws, endpoint=None, backend=None)
    assert ws.cli("plan", "--detailed-exitcode").returncode == 0
    assert "endpoint" not in ws.state_doc()

    ws.write(dataset("numbers", NUMBERS), tuned_model("adder", display_name="Adds"))
    assert ws.apply().returncode == 0
    assert ws.state_doc()["endpoint"] == ws.emulator.url
    assert ws.state_doc()["backend"] == "gemini"


def test_another_backend_is_refused(ws: Workspace) -> None:
    _applied(ws)
    _record(ws, backend="vertex")
    result = ws.cli("plan")
    assert result.returncode == 1
    assert f"the state {ws.state} records models of the vertex API, not gemini" in result.stderr


def test_a_loopback_emulator_on_another_port_is_the_same_api(ws: Workspace) -> None:
    """Emulators start on whatever port is free: any loopback endpoint is one API."""
    _applied(ws)
    _record(ws, endpoint="http://localhost:1")
    assert ws.cli("plan", "--detailed-exitcode").returncode == 0


def test_inventory_reads_a_state_of_another_api_with_a_warning(ws: Workspace) -> None:
    _applied(ws)
    _record(ws, endpoint=ELSEWHERE)
    result = ws.cli("inventory", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert (
        f"Warning: the state {ws.state} belongs to the API at {ELSEWHERE}, not "
        f"{ws.emulator.url}: its models are compared with this API's"
    ) in result.stderr
