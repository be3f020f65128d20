"""Out-of-band changes to a served emulator: plain httpx calls, never our client.

The inventory must see what someone else did to the project, so the tests
make those changes the way someone else would.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from reconciler.applied import ModelRecord, StateDocument
from reconciler.spec import AppliedSpec, DatasetRef, Hyperparameters

BASE_MODEL = "models/gemini-1.5-flash-001-tuning"


def create_model(
    url: str,
    model_id: str,
    *,
    display_name: str,
    examples: int = 15,
    epochs: int = 5,
    batch: int = 4,
    description: str | None = None,
) -> dict[str, object]:
    """POST a create with ``tunedModelId``; returns the Operation body."""
    body: dict[str, object] = {
        "baseModel": BASE_MODEL,
        "displayName": display_name,
        "tuningTask": {
            "trainingData": {
                "examples": {
                    "examples": [
                        {"textInput": str(i), "output": str(i + 1)} for i in range(examples)
                    ]
                }
            },
            "hyperparameters": {"epochCount": epochs, "batchSize": batch, "learningRate": 0.001},
        },
    }
    if description:
        body["description"] = description
    response = httpx.post(
        f"{url}/v1beta/tunedModels", params={"tunedModelId": model_id}, json=body, timeout=10
    )
    response.raise_for_status()
    data = response.json()
    assert isinstance(data, dict)
    return data


def get_model(url: str, model_id: str) -> dict[str, object]:
    response = httpx.get(f"{url}/v1beta/tunedModels/{model_id}", timeout=10)
    response.raise_for_status()
    data = response.json()
    assert isinstance(data, dict)
    return data


def patch_display_name(url: str, model_id: str, display_name: str) -> None:
    response = httpx.patch(
        f"{url}/v1beta/tunedModels/{model_id}",
        params={"updateMask": "displayName"},
        json={"displayName": display_name},
        timeout=10,
    )
    response.raise_for_status()


def delete_model(url: str, model_id: str) -> None:
    httpx.delete(f"{url}/v1beta/tunedModels/{model_id}", timeout=10).raise_for_status()


def applied_spec(
    display_name: str, *, examples: int = 15, epochs: int = 5, batch: int = 4
) -> AppliedSpec:
    return AppliedSpec(
        baseModel=BASE_MODEL,
        displayName=display_name,
        hyperparameters=Hyperparameters(epochCount=epochs, batchSize=batch, learningRate=0.001),
        dataset=DatasetRef(
            name=f"{display_name}-data", hash="sha256:" + "0" * 64, examples=examples
        ),
    )


def write_state(path: Path, records: dict[str, ModelRecord]) -> StateDocument:
    """Write a state document in the file backend's format (as an apply would have left it)."""
    doc = StateDocument(serial=3, models=records)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc.model_dump_json(indent=2), encoding="utf-8")
    return doc
