"""A user's working copy for end-to-end tests: manifests, a state file, the CLI, a served emulator.

Everything goes through ``python -m reconciler`` (``run_cli``) and plain HTTP, the
way a user or a CI job sees the tool; nothing here imports the reconciler package.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import ServedEmulator, run_cli

BASE_MODEL = "models/gemini-1.5-flash-001-tuning"
API_KEY = "AIzaSy-e2e-secret-key-000000000000000"


def dataset(name: str, examples: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "gemini.tuning/v1",
        "kind": "Dataset",
        "metadata": {"name": name},
        "spec": {"examples": [{"textInput": i, "output": o} for i, o in examples]},
    }


def tuned_model(
    name: str,
    *,
    display_name: str | None = None,
    source: str | None = None,
    data: str = "numbers",
    prevent_destroy: bool = False,
    epochs: int = 1,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"displayName": display_name or name.title()}
    if source:
        spec["tunedModelSource"] = source
    else:
        spec["baseModel"] = BASE_MODEL
    spec["tuningTask"] = {
        "trainingData": data,
        "hyperparameters": {"epochCount": epochs, "batchSize": 2, "learningRate": 0.001},
    }
    if prevent_destroy:
        spec["lifecycle"] = {"preventDestroy": True}
    return {
        "apiVersion": "gemini.tuning/v1",
        "kind": "TunedModel",
        "metadata": {"name": name},
        "spec": spec,
    }


NUMBERS = [("1", "2"), ("seven", "eight"), ("41", "42")]


@dataclass
class Workspace:
    """``root/manifests/*.yaml`` + ``root/.reconciler/state.json`` against one emulator."""

    root: Path
    emulator: ServedEmulator
    state: str = ""
    api_key: str = API_KEY
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.state:
            self.state = str(self.root / ".reconciler" / "state.json")
        (self.root / "manifests").mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ manifests

    def write(self, *docs: dict[str, Any], filename: str = "models.yaml") -> None:
        """Write the documents as one multi-document YAML file (JSON is valid YAML)."""
        text = "\n---\n".join(json.dumps(d, indent=2) for d in docs) + "\n"
        (self.root / "manifests" / filename).write_text(text, encoding="utf-8")

    # ------------------------------------------------------------------ the CLI

    def env(self) -> dict[str, str]:
        return {"GEMINI_API_KEY": self.api_key, **self.extra_env}

    def argv(self, *args: str) -> list[str]:
        return ["--endpoint", self.emulator.url, "--state", self.state, *args]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(*self.argv(*args), cwd=self.root, env=self.env(), timeout=timeout)

    def apply(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.cli(
            "apply", "--auto-approve", "--poll-interval", "0.05s", *args, timeout=timeout
        )

    def plan_json(self, *args: str) -> dict[str, Any]:
        result = self.cli("plan", "--format", "json", *args)
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def actions(self, *args: str) -> dict[str, dict[str, Any]]:
        """model id -> its action in ``plan --format json``."""
        return {a["name"].removeprefix("tunedModels/"): a for a in self.plan_json(*args)["actions"]}

    def kinds(self, *args: str) -> dict[str, str]:
        return {name: a["action"] for name, a in self.actions(*args).items()}

    # ------------------------------------------------------------------ the API, out of band

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.emulator.url, headers={"x-goog-api-key": self.api_key}, timeout=30
        )

    def live(self) -> dict[str, dict[str, Any]]:
        """Every live tuned model by id, from one plain list request."""
        with self.http() as http:
            response = http.get("/v1beta/tunedModels", params={"pageSize": 1000})
        response.raise_for_status()
        models = response.json().get("tunedModels", [])
        return {m["name"].removeprefix("tunedModels/"): m for m in models}

    def stats(self) -> dict[str, Any]:
        return self.emulator.stats()

    def creates(self) -> dict[str, int]:
        creates = self.stats()["creates"]
        assert isinstance(creates, dict)
        return creates

    def requests(self, route: str) -> int:
        requests = self.stats()["requests"]
        assert isinstance(requests, dict)
        return int(requests.get(route, 0))

    def create_out_of_band(self, model_id: str, *, display_name: str = "Made by hand") -> None:
        body = {
            "displayName": display_name,
            "baseModel": BASE_MODEL,
            "tuningTask": {
                "hyperparameters": {"epochCount": 1, "batchSize": 2, "learningRate": 0.001},
                "trainingData": {
                    "examples": {"examples": [{"textInput": i, "output": o} for i, o in NUMBERS]}
                },
            },
        }
        with self.http() as http:
            response = http.post(
                "/v1beta/tunedModels", params={"tunedModelId": model_id}, json=body
            )
        response.raise_for_status()

    def patch_out_of_band(self, model_id: str, **fields: str) -> None:
        with self.http() as http:
            response = http.patch(
                f"/v1beta/tunedModels/{model_id}",
                params={"updateMask": ",".join(fields)},
                json=fields,
            )
        response.raise_for_status()

    def delete_out_of_band(self, model_id: str) -> None:
        with self.http() as http:
            http.delete(f"/v1beta/tunedModels/{model_id}").raise_for_status()

    # ------------------------------------------------------------------ state

    def state_doc(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(Path(self.state).read_text(encoding="utf-8"))
        return data
