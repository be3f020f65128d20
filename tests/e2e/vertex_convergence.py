"""The ten-model project on Vertex AI, and what "converged" means there.

Vertex AI chooses job ids, so reconciler labels each job with a key
(``reconciler-key``) and records ``tunedModels/<key>`` as its live name. After
any number of killed or failed runs, converged means: every key was created
once (the emulator's ``jobCreates``), every job reconciler labelled is one the
state records (no orphan, nothing billed twice), each record's job succeeded
and its Model carries the manifest's display name, and the next plan is empty.
A run killed after writing a create's intent but before the request leaves a
key no job has: the next run creates under that very key, so it still ends
created once.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.e2e.convergence import MODELS, BackendDriver, read_state
from tests.e2e.vertex_workspace import VertexWorkspace, vertex_model
from tests.e2e.workspace import NUMBERS, Workspace, dataset

KEY_LABEL = "reconciler-key"


def write_ten_vertex_models(ws: Workspace) -> None:
    """Ten independent models (Vertex AI has no tuning from a tuned model)."""
    ws.write(dataset("numbers", NUMBERS), *(vertex_model(name) for name in MODELS))


def _by_key(jobs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    labelled: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        key = job.get("labels", {}).get(KEY_LABEL)
        assert key, f"a job without reconciler's label: {job['name']}"
        labelled.setdefault(key, []).append(job)
    return labelled


def assert_vertex_converged(ws: Workspace, *, models: list[str] = MODELS) -> None:
    """One job per model, each created once and recorded; state == live; the plan is empty."""
    assert isinstance(ws, VertexWorkspace)
    state = read_state(ws)
    assert state["backend"] == "vertex"
    records = state["models"]
    assert isinstance(records, dict)
    assert sorted(records) == sorted(models)
    keys: dict[str, str] = {}  # key -> manifest name
    for name, record in records.items():
        live = record["name"]
        assert live.startswith(f"tunedModels/{name}-"), (name, live)
        assert record["applied"] is not None, name
        assert record["pendingCreate"] is None, name
        assert record["operation"] is None, name
        assert record.get("candidate") is None, name
        keys[live.removeprefix("tunedModels/")] = name

    labelled = _by_key(ws.jobs())
    # No orphan: every job reconciler made is one the state records, and no duplicate.
    assert sorted(labelled) == sorted(keys)
    assert {key: len(jobs) for key, jobs in labelled.items()} == dict.fromkeys(keys, 1)
    assert ws.job_creates() == dict.fromkeys(keys, 1)
    for key, [job] in labelled.items():
        name = keys[key]
        applied = records[name]["applied"]
        assert job["state"] == "JOB_STATE_SUCCEEDED", (name, job["state"])
        model = ws.get(job["tunedModel"]["model"].split("@")[0])
        assert model.status_code == 200, (name, model.text)
        assert model.json()["displayName"] == applied["displayName"] == name.title()
        endpoint = ws.get(job["tunedModel"]["endpoint"])
        assert endpoint.status_code == 200, (name, endpoint.text)
    assert ws.live() == {}  # nothing went to the Gemini API
    final = ws.cli("plan", "--detailed-exitcode")
    assert final.returncode == 0, final.stdout + final.stderr


def _file_records(ws: Workspace) -> dict[str, Any]:
    """The model records of a state file, read without starting the CLI (kills are many).

    The snapshot, then the journal's entries (``<crc32> {"serial": S, "models":
    {NAME: RECORD | null}}``) in order; one a kill cut short has no line end.
    """
    path = Path(ws.state)
    snapshot = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    records: dict[str, Any] = dict(snapshot.get("models", {}))
    journal = path.with_name(path.name + ".journal")
    text = journal.read_text(encoding="utf-8") if journal.exists() else ""
    for line in text.splitlines(keepends=True):
        entry = json.loads(line.split(" ", 1)[1]) if line.endswith("\n") else None
        if entry is None or entry["serial"] < snapshot.get("serial", 0):
            continue
        for name, record in entry["models"].items():
            if record is None:
                records.pop(name, None)
            else:
                records[name] = record
    return records


def lost_create_answers(ws: Workspace) -> set[str]:
    """Keys of records whose create made a job (the emulator counted it) but hold only the intent."""
    records = _file_records(ws)
    created = ws.stats()["jobCreates"]
    keys = (
        record["name"].removeprefix("tunedModels/")
        for record in records.values()
        if record["applied"] is None and record["pendingCreate"] is not None
    )
    return {key for key in keys if key in created}


def half_removed(ws: Workspace) -> set[str]:
    """Succeeded jobs whose removal was cut short: some of deployment, Endpoint, Model is gone."""
    assert isinstance(ws, VertexWorkspace)
    produced = [j for j in ws.jobs() if j["state"] == "JOB_STATE_SUCCEEDED"]

    def parts_left(job: dict[str, Any]) -> int:
        model = ws.get(job["tunedModel"]["model"].split("@")[0])
        endpoint = ws.get(job["tunedModel"]["endpoint"])
        serving = endpoint.status_code == 200 and bool(endpoint.json().get("deployedModels"))
        return (model.status_code == 200) + (endpoint.status_code == 200) + serving

    with ThreadPoolExecutor(max_workers=8) as pool:
        left = dict(zip((j["name"] for j in produced), pool.map(parts_left, produced), strict=True))
    return {name for name, parts in left.items() if 0 < parts < 3}


VERTEX = BackendDriver(
    write_models=write_ten_vertex_models,
    check_converged=assert_vertex_converged,
    create_route="POST /v1/projects/{project}/locations/{location}/tuningJobs",
    lost_answers=lost_create_answers,
)
