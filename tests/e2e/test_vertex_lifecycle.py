"""The Vertex AI backend through the CLI: create, evaluate, update, replace, delete, import, inventory.

Each test writes manifests with a ``Backend`` document choosing Vertex AI, runs
``python -m reconciler`` against the served emulator, and checks what a user
would: exit codes, output, the tuning jobs, Models, Endpoints and dataset
objects (plain HTTP), and the emulator's count of jobs created per key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_eval import evaluation
from tests.e2e.vertex_workspace import (
    BUCKET,
    LOCATION,
    PARENT,
    PROJECT,
    VertexWorkspace,
    vertex_model,
)
from tests.e2e.workspace import NUMBERS, Workspace, dataset
from tests.support.servers import ServedEmulator


@pytest.fixture
def vws(tmp_path: Path, emulator: ServedEmulator) -> VertexWorkspace:
    return VertexWorkspace(root=tmp_path, emulator=emulator)


def _labels(job: dict[str, Any]) -> dict[str, str]:
    labels = job.get("labels", {})
    assert isinstance(labels, dict)
    return labels


def test_a_create_is_one_tuning_job_the_plan_names_the_backend_and_the_next_plan_is_empty(
    vws: VertexWorkspace,
) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha", labels={"team": "search"}))

    text = vws.cli("plan")
    assert text.returncode == 0, text.stderr
    assert (
        f"Backend: Vertex AI tuningJobs in projects/{PROJECT}/locations/{LOCATION} "
        f"(datasets in gs://{BUCKET}/datasets)" in text.stdout
    )
    assert "a new billed tuning job" in text.stdout
    planned = vws.plan_json()
    assert planned["backend"]["type"] == "vertex"
    assert [a["action"] for a in planned["actions"]] == ["create"]

    result = vws.apply()

    assert result.returncode == 0, result.stderr
    assert "Apply complete: 1 created" in result.stdout
    [job] = vws.jobs()
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert job["baseModel"] == "gemini-2.5-flash"
    assert _labels(job)["team"] == "search"
    key = _labels(job)["reconciler-key"]
    assert key.startswith("alpha-")
    assert vws.job_creates() == {key: 1}
    spec = job["supervisedTuningSpec"]
    assert spec["trainingDatasetUri"].startswith(f"gs://{BUCKET}/datasets/")
    assert spec["hyperParameters"]["adapterSize"] == "ADAPTER_SIZE_FOUR"
    # The dataset was stored content-addressed, as Vertex's contents JSONL.
    bucket, _, name = spec["trainingDatasetUri"].removeprefix("gs://").partition("/")
    with vws.vertex() as http:
        media = http.get(
            f"/storage/v1/b/{bucket}/o/{name.replace('/', '%2F')}", params={"alt": "media"}
        )
    assert media.status_code == 200
    lines = [json.loads(line) for line in media.text.splitlines()]
    assert lines[0]["contents"][0] == {"role": "user", "parts": [{"text": "1"}]}
    assert len(lines) == len(NUMBERS)
    # The state records which stored version the job was given.
    with vws.vertex() as http:
        meta = http.get(f"/storage/v1/b/{bucket}/o/{name.replace('/', '%2F')}").json()
    [stored] = vws.state_doc()["models"]["alpha"]["datasetObjects"]
    assert stored == {
        "role": "training",
        "uri": spec["trainingDatasetUri"],
        "generation": int(meta["generation"]),
        "md5Hash": meta["md5Hash"],
        "crc32c": meta["crc32c"],
        "size": int(meta["size"]),
    }

    state = vws.state_doc()
    assert state["backend"] == "vertex"
    assert state["models"]["alpha"]["name"] == f"tunedModels/{key}"
    assert vws.kinds() == {key: "noop"}
    assert vws.cli("plan", "--detailed-exitcode").returncode == 0


def test_an_evaluation_gate_calls_the_tuned_endpoint_before_the_model_serves(
    vws: VertexWorkspace,
) -> None:
    vws.write(
        dataset("numbers", NUMBERS),
        evaluation("numbers-check", NUMBERS, threshold=0.5),
        vertex_model("alpha", evaluation="numbers-check"),
    )

    result = vws.apply()

    assert result.returncode == 0, result.stderr
    assert "evaluation numbers-check passed" in result.stdout
    requests = vws.stats()["requests"]
    assert isinstance(requests, dict)
    generate = (
        "POST /v1/projects/{project}/locations/{location}/endpoints/{endpoint}:generateContent"
    )
    assert requests[generate] == len(NUMBERS), requests
    record = vws.state_doc()["models"]["alpha"]
    [gated] = record["evaluations"].values()
    assert gated["evaluation"] == "numbers-check" and gated["passed"] is True


def test_a_display_name_change_patches_the_model_and_starts_no_job(vws: VertexWorkspace) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha", display_name="Old name"))
    assert vws.apply().returncode == 0
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha", display_name="New name"))

    [action] = vws.plan_json()["actions"]
    assert action["action"] == "update"
    assert action["updateMask"] == ["displayName"]
    result = vws.apply()

    assert result.returncode == 0, result.stderr
    assert "1 updated" in result.stdout
    [job] = vws.jobs()
    model = vws.get(job["tunedModel"]["model"].split("@")[0]).json()
    assert model["displayName"] == "New name"
    assert sum(vws.job_creates().values()) == 1
    assert vws.cli("plan", "--detailed-exitcode").returncode == 0


def test_a_hyperparameter_change_is_a_new_job_created_before_the_old_model_is_deleted(
    vws: VertexWorkspace,
) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha", replacement="createBeforeDestroy"))
    assert vws.apply().returncode == 0
    old = vws.job_of("alpha")
    vws.write(
        dataset("numbers", NUMBERS),
        vertex_model("alpha", epochs=2, replacement="createBeforeDestroy"),
    )

    text = vws.cli("plan")
    assert "a new billed tuning job" in text.stdout
    [action] = vws.plan_json()["actions"]
    assert action["action"] == "replace"
    result = vws.apply()

    assert result.returncode == 0, result.stderr
    new = vws.job_of("alpha")
    assert new["name"] != old["name"]
    assert new["state"] == "JOB_STATE_SUCCEEDED"
    assert new["supervisedTuningSpec"]["hyperParameters"]["epochCount"] in (2, "2")
    # The old job's record stays (the API cannot delete one); its Model and Endpoint are gone.
    assert vws.get(old["name"]).status_code == 200
    assert vws.get(old["tunedModel"]["model"].split("@")[0]).status_code == 404
    assert vws.get(old["tunedModel"]["endpoint"]).status_code == 404
    assert vws.get(new["tunedModel"]["model"].split("@")[0]).status_code == 200
    assert sorted(vws.job_creates().values()) == [1, 1]
    assert vws.cli("plan", "--detailed-exitcode").returncode == 0


def test_removing_a_manifest_deletes_the_model_and_endpoint_and_says_the_job_stays(
    vws: VertexWorkspace,
) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"), vertex_model("beta"))
    assert vws.apply().returncode == 0
    beta = vws.job_of("beta")
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"))

    text = vws.cli("plan")
    assert "undeploys and deletes the tuned model and its endpoint" in text.stdout
    result = vws.apply()

    assert result.returncode == 0, result.stderr
    assert "1 deleted" in result.stdout
    assert vws.get(beta["tunedModel"]["model"].split("@")[0]).status_code == 404
    assert vws.get(beta["tunedModel"]["endpoint"]).status_code == 404
    assert vws.get(beta["name"]).status_code == 200
    assert sorted(vws.state_doc()["models"]) == ["alpha"]
    assert vws.cli("plan", "--detailed-exitcode").returncode == 0


def test_destroy_cancels_a_job_still_running(vws: VertexWorkspace) -> None:
    vws.emulator.configure(stepSeconds=3600.0)
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"))
    assert vws.apply("--no-wait").returncode == 0
    running = vws.job_of("alpha")
    assert running["state"] in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING")

    result = vws.cli("destroy", "--auto-approve")

    assert result.returncode == 0, result.stderr
    job = vws.get(running["name"]).json()
    assert job["state"] in ("JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED")
    assert vws.state_doc()["models"] == {}


def test_inventory_lists_jobs_made_outside_and_import_adopts_one(vws: VertexWorkspace) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"))
    assert vws.apply().returncode == 0
    uri = vws.job_of("alpha")["supervisedTuningSpec"]["trainingDatasetUri"]
    with vws.vertex() as http:
        made = http.post(
            f"{PARENT}/tuningJobs",
            json={
                "baseModel": "gemini-2.5-flash",
                "tunedModelDisplayName": "Made by hand",
                "supervisedTuningSpec": {
                    "trainingDatasetUri": uri,
                    "hyperParameters": {"epochCount": 1, "learningRateMultiplier": 1.0},
                },
            },
        )
    assert made.status_code == 200, made.text
    by_hand = made.json()["name"]

    inventory = vws.cli("inventory", "--format", "json")
    assert inventory.returncode == 0, inventory.stderr
    rows = json.loads(inventory.stdout)
    listed = {row["name"]: row for row in rows["models"]}
    assert by_hand in listed
    assert listed[by_hand]["status"] == "unmanaged"
    assert listed[by_hand]["displayName"] == "Made by hand"
    assert listed[f"tunedModels/{vws.job_of('alpha')['labels']['reconciler-key']}"]["status"] == (
        "managed"
    )

    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"), vertex_model("handmade"))
    imported = vws.cli("import", "handmade", by_hand)

    assert imported.returncode == 0, imported.stderr
    assert vws.state_doc()["models"]["handmade"]["name"] == by_hand
    kinds = {a["address"]: a["action"] for a in vws.plan_json()["actions"]}
    assert kinds["TunedModel/alpha"] == "noop"
    # The manifest differs from what was made by hand.
    assert kinds["TunedModel/handmade"] in ("update", "replace")
    # Importing made no job: the one reconciler made, and the one made by hand.
    assert len(vws.jobs()) == 2
    assert list(vws.job_creates().values()) == [1]


def test_a_state_made_for_vertex_is_refused_on_the_gemini_api(vws: VertexWorkspace) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"))
    assert vws.apply().returncode == 0

    result = vws.cli("--backend", "gemini", "plan", "--format", "json")

    assert result.returncode == 1
    assert "records models of the vertex API, not gemini" in result.stderr, result.stderr
    assert result.stdout == ""


def test_a_plan_reads_every_job_and_model_with_two_listings_whatever_their_number(
    vws: VertexWorkspace,
) -> None:
    vws.write(dataset("numbers", NUMBERS), *(vertex_model(f"m{i}") for i in range(6)))
    assert vws.apply().returncode == 0
    before = vws.stats()["requests"]
    assert isinstance(before, dict)

    assert vws.cli("plan", "--detailed-exitcode").returncode == 0

    after = vws.stats()["requests"]
    assert isinstance(after, dict)
    sent = {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route)}
    assert sent == {
        "GET /v1/projects/{project}/locations/{location}/tuningJobs": 1,
        "GET /v1/projects/{project}/locations/{location}/models": 1,
    }


def test_no_wait_then_wait_show_and_eval_follow_the_job_to_its_endpoint(
    vws: VertexWorkspace,
) -> None:
    vws.emulator.configure(stepSeconds=60.0)
    vws.write(
        dataset("numbers", NUMBERS),
        evaluation("numbers-check", NUMBERS, threshold=0.5),
        vertex_model("alpha", evaluation="numbers-check"),
    )
    started = vws.apply("--no-wait")
    assert started.returncode == 0, started.stderr
    assert "tuning started" in started.stdout
    key = vws.state_doc()["models"]["alpha"]["name"].removeprefix("tunedModels/")
    assert vws.kinds() == {key: "wait"}
    vws.emulator.advance(3600)

    waited = vws.cli("wait", "--poll-interval", "0.05s")

    assert waited.returncode == 0, waited.stderr
    # Progress names the manifest, not the job's key.
    assert waited.stdout.startswith("TunedModel/alpha: tuning")
    assert f"TunedModel/{key}" not in waited.stdout
    assert "TunedModel/alpha: ACTIVE" in waited.stdout
    job = vws.job_of("alpha")
    [gated] = vws.state_doc()["models"]["alpha"]["evaluations"].values()
    assert gated["evaluation"] == "numbers-check" and gated["passed"] is True
    shown = vws.cli("show", "alpha", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["model"]["state"] == "ACTIVE"
    assert detail["tuningJob"] == {
        "name": job["name"],
        "model": job["tunedModel"]["model"],
        "endpoint": job["tunedModel"]["endpoint"],
    }
    text = vws.cli("show", "alpha")
    assert job["tunedModel"]["endpoint"] in text.stdout
    evaluated = vws.cli("eval", "--format", "json")
    assert evaluated.returncode == 0, evaluated.stderr
    [result] = json.loads(evaluated.stdout)["results"]
    assert result["passed"]


def test_a_base_model_vertex_cannot_tune_is_a_plan_error_before_any_job(
    vws: VertexWorkspace,
) -> None:
    model = vertex_model("alpha")
    model["spec"]["baseModel"] = "gemini-1.0-pro"
    vws.write(dataset("numbers", NUMBERS), model)

    result = vws.cli("apply", "--auto-approve")

    assert result.returncode != 0
    assert "gemini-1.0-pro" in result.stderr
    assert vws.jobs() == []


def test_flags_alone_choose_vertex_and_its_field_rules(vws: VertexWorkspace) -> None:
    Workspace.write(vws, dataset("numbers", NUMBERS), vertex_model("alpha", labels={"t": "x"}))
    flags = (
        "--backend",
        "vertex",
        "--project",
        PROJECT,
        "--location",
        LOCATION,
        "--dataset-bucket",
        f"gs://{BUCKET}/datasets",
    )

    planned = vws.cli(*flags, "plan")
    applied = vws.cli(*flags, "apply", "--auto-approve", "--poll-interval", "0.05s")
    as_gemini = vws.cli("plan")
    validated_as_gemini = vws.cli("validate")

    assert planned.returncode == 0, planned.stderr
    assert "Backend: Vertex AI tuningJobs" in planned.stdout
    assert applied.returncode == 0, applied.stderr
    assert len(vws.jobs()) == 1
    # Without the flags the state (made on Vertex AI) is refused, and the same
    # manifests are for the Gemini API, where these fields do not exist.
    assert as_gemini.returncode != 0
    assert "vertex" in as_gemini.stderr
    assert validated_as_gemini.returncode != 0
    assert "only on the vertex backend" in validated_as_gemini.stdout


def test_a_label_change_patches_the_models_labels_and_keeps_reconcilers_own(
    vws: VertexWorkspace,
) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha", labels={"team": "search"}))
    assert vws.apply().returncode == 0
    vws.write(
        dataset("numbers", NUMBERS), vertex_model("alpha", labels={"team": "ads", "tier": "gold"})
    )

    [action] = vws.plan_json()["actions"]
    result = vws.apply()

    assert action["action"] == "update" and action["updateMask"] == ["labels"]
    assert result.returncode == 0, result.stderr
    job = vws.job_of("alpha")
    labels = vws.get(job["tunedModel"]["model"].split("@")[0]).json()["labels"]
    assert labels["team"] == "ads" and labels["tier"] == "gold"
    assert labels["reconciler-key"] == job["labels"]["reconciler-key"]
    # The service's own labels stay.
    assert labels["google-vertex-llm-tuning-base-model-id"] == "gemini-2-5-flash"
    assert sum(vws.job_creates().values()) == 1
    assert vws.cli("plan", "--detailed-exitcode").returncode == 0


def test_a_saved_plan_applies_on_vertex(vws: VertexWorkspace) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"))
    plan_file = str(vws.root / "plan.json")
    made = vws.cli("plan", "--out", plan_file)
    assert made.returncode == 0, made.stderr

    applied = vws.cli("apply", "--auto-approve", "--poll-interval", "0.05s", plan_file)

    assert applied.returncode == 0, applied.stderr
    assert "Apply complete: 1 created" in applied.stdout
    assert list(vws.job_creates().values()) == [1]
