"""A working copy that targets Vertex AI tuning jobs on the served emulator.

Like ``Workspace`` (the CLI as a process, plain HTTP out of band), with a
``Backend`` document choosing Vertex AI, an OAuth access token instead of an
API key, and helpers that read jobs, Models, Endpoints and stored datasets the
way a user would with curl.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.workspace import API_KEY, Workspace

PROJECT = "demo-project"
LOCATION = "us-central1"
BUCKET = "reconciler-e2e"
DATASETS = f"gs://{BUCKET}/datasets"
PARENT = f"/v1/projects/{PROJECT}/locations/{LOCATION}"
VERTEX_BASE_MODEL = "gemini-2.5-flash"


def backend_document() -> dict[str, Any]:
    return {
        "apiVersion": "gemini.tuning/v1",
        "kind": "Backend",
        "metadata": {"name": "vertex"},
        "spec": {
            "type": "vertex",
            "project": PROJECT,
            "location": LOCATION,
            "datasetBucket": DATASETS,
        },
    }


def vertex_model(
    name: str,
    *,
    display_name: str | None = None,
    data: str = "numbers",
    epochs: int = 1,
    adapter_size: int | None = 4,
    labels: dict[str, str] | None = None,
    evaluation: str | None = None,
    replacement: str | None = None,
    validation: str | None = None,
) -> dict[str, Any]:
    hyper: dict[str, Any] = {"epochCount": epochs, "learningRateMultiplier": 1.0}
    if adapter_size is not None:
        hyper["adapterSize"] = adapter_size
    task: dict[str, Any] = {"trainingData": data, "hyperparameters": hyper}
    if validation:
        task["validationData"] = validation
    spec: dict[str, Any] = {
        "displayName": display_name or name.title(),
        "baseModel": VERTEX_BASE_MODEL,
        "tuningTask": task,
    }
    if labels:
        spec["labels"] = labels
    if evaluation:
        spec["evaluation"] = evaluation
    if replacement:
        spec["lifecycle"] = {"replacement": replacement}
    return {
        "apiVersion": "gemini.tuning/v1",
        "kind": "TunedModel",
        "metadata": {"name": name},
        "spec": spec,
    }


@dataclass
class VertexWorkspace(Workspace):
    """The manifests carry a Backend document; requests carry a Bearer token."""

    def env(self) -> dict[str, str]:
        # The emulator started with --api-key accepts that key as a Bearer token.
        return {"GOOGLE_OAUTH_ACCESS_TOKEN": API_KEY, **self.extra_env}

    def write(self, *docs: dict[str, Any], filename: str = "models.yaml") -> None:
        super().write(backend_document(), *docs, filename=filename)

    def vertex(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.emulator.url,
            headers={"authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )

    def jobs(self) -> list[dict[str, Any]]:
        """Every tuning job of the project and location, oldest first."""
        found: list[dict[str, Any]] = []
        token = ""
        with self.vertex() as http:
            while True:
                params = {"pageSize": 100, **({"pageToken": token} if token else {})}
                page = http.get(f"{PARENT}/tuningJobs", params=params)
                page.raise_for_status()
                found += page.json().get("tuningJobs", [])
                token = page.json().get("nextPageToken", "")
                if not token:
                    return sorted(found, key=lambda job: job["createTime"])

    def job_of(self, model: str) -> dict[str, Any]:
        """The job the state records for manifest ``model`` (its live name is its key label)."""
        key = self.state_doc()["models"][model]["name"].removeprefix("tunedModels/")
        matching = [j for j in self.jobs() if j.get("labels", {}).get("reconciler-key") == key]
        assert len(matching) == 1, matching
        return matching[0]

    def get(self, name: str) -> httpx.Response:
        with self.vertex() as http:
            return http.get(f"/v1/{name}")

    def job_creates(self) -> dict[str, int]:
        creates = self.stats()["jobCreates"]
        assert isinstance(creates, dict)
        return creates
