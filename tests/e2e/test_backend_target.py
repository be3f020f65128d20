"""A state made on one backend or target is refused by a command pointed at another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model

VERTEX = (
    "--backend",
    "vertex",
    "--project",
    "my-project",
    "--location",
    "us-central1",
    "--dataset-bucket",
    "gs://my-data",
)
BACKEND_DOCUMENT = {
    "apiVersion": "gemini.tuning/v1",
    "kind": "Backend",
    "metadata": {"name": "prod"},
    "spec": {
        "type": "vertex",
        "project": "my-project",
        "location": "us-central1",
        "datasetBucket": "gs://my-data",
    },
}
REFUSED = (
    "records models of the gemini API, not vertex (it belongs to the Gemini API, "
    "this command to Vertex AI project my-project in us-central1)"
)


def _vertex_model() -> dict[str, Any]:
    model = tuned_model("adder")
    model["spec"]["baseModel"] = "gemini-2.5-flash"
    model["spec"]["tuningTask"]["hyperparameters"] = {"epochCount": 1, "adapterSize": 4}
    model["spec"]["labels"] = {"team": "search"}
    return model


def _applied(ws: Workspace) -> bytes:
    ws.write(dataset("numbers", NUMBERS), tuned_model("adder"))
    result = ws.apply()
    assert result.returncode == 0, result.stderr
    return Path(ws.state).read_bytes()


def test_a_gemini_state_is_refused_by_a_vertex_command(ws: Workspace) -> None:
    before = _applied(ws)
    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"]):
        result = ws.cli(*VERTEX, *command)
        assert result.returncode == 1, result.stdout
        assert f"Error: the state {ws.state} {REFUSED}" in result.stderr
        assert "delete" not in result.stdout
    assert Path(ws.state).read_bytes() == before
    assert ws.creates() == {"adder": 1}


def test_a_backend_document_binds_the_state_too(ws: Workspace) -> None:
    before = _applied(ws)
    ws.write(BACKEND_DOCUMENT, filename="backend.yaml")
    ws.write(dataset("numbers", NUMBERS), _vertex_model())
    for command in (["plan"], ["wait"]):
        result = ws.cli(*command)
        assert result.returncode == 1, result.stdout
        assert f"Error: the state {ws.state} {REFUSED}" in result.stderr
    assert Path(ws.state).read_bytes() == before


def test_a_saved_plan_is_bound_by_the_backend_document_of_its_manifests(ws: Workspace) -> None:
    before = _applied(ws)
    plan_file = str(ws.root / "plan.json")
    made = ws.cli("plan", "--out", plan_file)
    assert made.returncode == 0, made.stderr
    ws.write(BACKEND_DOCUMENT, filename="backend.yaml")
    ws.write(dataset("numbers", NUMBERS), _vertex_model())
    result = ws.cli("apply", "--auto-approve", plan_file)
    assert result.returncode == 1, result.stdout
    assert f"Error: the state {ws.state} {REFUSED}" in result.stderr
    assert Path(ws.state).read_bytes() == before
