"""Vertex AI labels: the manifest owns the keys it sets, the service and others keep theirs.

The service labels the Model a tuning job produces with its base model and
job; those labels are neither drift nor removed when the manifest's labels
change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.vertex_workspace import VertexWorkspace, vertex_model
from tests.e2e.workspace import NUMBERS, dataset
from tests.support.servers import ServedEmulator

SERVICE_LABELS = ("google-vertex-llm-tuning-base-model-id", "google-vertex-llm-tuning-job-id")


@pytest.fixture
def vws(tmp_path: Path, emulator: ServedEmulator) -> VertexWorkspace:
    return VertexWorkspace(root=tmp_path, emulator=emulator)


def test_the_service_labels_on_a_tuned_model_are_not_drift(vws: VertexWorkspace) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha", labels={"team": "search"}))
    assert vws.apply().returncode == 0
    model = vws.get(vws.job_of("alpha")["tunedModel"]["model"].split("@")[0]).json()
    assert set(SERVICE_LABELS) <= set(model["labels"])

    inventory = vws.cli("inventory", "--format", "json")

    assert inventory.returncode == 0, inventory.stderr
    [row] = json.loads(inventory.stdout)["models"]
    assert row["status"] == "managed", row
    assert vws.cli("plan", "--refresh-only", "--detailed-exitcode").returncode == 0


def test_a_label_change_patches_the_manifests_keys_and_keeps_the_service_labels(
    vws: VertexWorkspace,
) -> None:
    vws.write(
        dataset("numbers", NUMBERS),
        vertex_model("alpha", display_name="Old", labels={"team": "search"}),
    )
    assert vws.apply().returncode == 0
    vws.write(
        dataset("numbers", NUMBERS),
        vertex_model("alpha", display_name="New", labels={"team": "ads"}),
    )

    [action] = vws.plan_json()["actions"]
    assert action["action"] == "update"
    assert action["updateMask"] == ["displayName", "labels"]
    result = vws.apply()

    assert result.returncode == 0, result.stderr
    job = vws.job_of("alpha")
    model = vws.get(job["tunedModel"]["model"].split("@")[0]).json()
    assert model["displayName"] == "New"
    assert model["labels"]["team"] == "ads"
    assert model["labels"]["google-vertex-llm-tuning-job-id"] == job["name"].rsplit("/", 1)[-1]
    assert "google-vertex-llm-tuning-base-model-id" in model["labels"]
    assert model["labels"]["reconciler-key"] == job["labels"]["reconciler-key"]
    assert sum(vws.job_creates().values()) == 1
    assert vws.cli("plan", "--detailed-exitcode").returncode == 0


def test_a_display_name_change_leaves_the_labels_out_of_the_update(vws: VertexWorkspace) -> None:
    vws.write(
        dataset("numbers", NUMBERS),
        vertex_model("alpha", display_name="Old", labels={"team": "search"}),
    )
    assert vws.apply().returncode == 0
    vws.write(
        dataset("numbers", NUMBERS),
        vertex_model("alpha", display_name="New", labels={"team": "search"}),
    )

    [action] = vws.plan_json()["actions"]

    assert action["action"] == "update"
    assert action["updateMask"] == ["displayName"]
    assert [c["path"] for c in action["changes"]] == ["displayName"]
