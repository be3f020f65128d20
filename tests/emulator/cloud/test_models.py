"""The Model and Endpoint a succeeded job produced: get, patch, undeploy, delete, operations."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.emulator.vertex.catalog import project_number
from tests.support.cloud import LOCATION, PROJECT, Served

NUMBER = project_number(PROJECT)
END = "2023-11-14T22:13:25.000000Z"  # 1 step queued + 4 running


@pytest.fixture
def job(trained: Served) -> dict[str, Any]:
    name = trained.create_job(
        tunedModelDisplayName="Plus one", description="adds one", labels={"team": "search"}
    )["name"]
    trained.clock.advance(100)
    done: dict[str, Any] = trained.http.get(f"/v1/{name}").json()
    return done


def error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def test_model_and_endpoint_as_the_job_made_them(trained: Served, job: dict[str, Any]) -> None:
    model, endpoint = job["tunedModel"]["model"], job["tunedModel"]["endpoint"]
    job_id = job["name"].rsplit("/", 1)[1]
    got = trained.http.get(f"/v1/{model}")
    assert got.status_code == 200
    deployed_id = got.json()["deployedModels"][0]["deployedModelId"]
    assert got.json() == {
        "name": model.removesuffix("@1"),
        "versionId": "1",
        "versionAliases": ["default"],
        "versionCreateTime": END,
        "versionUpdateTime": END,
        "displayName": "Plus one",
        "description": "adds one",
        "labels": {
            "team": "search",
            "google-vertex-llm-tuning-base-model-id": "gemini-2-5-flash",
            "google-vertex-llm-tuning-job-id": job_id,
        },
        "createTime": END,
        "updateTime": END,
        "deployedModels": [{"endpoint": endpoint, "deployedModelId": deployed_id}],
    }
    assert trained.http.get(f"/v1beta1/{model.removesuffix('@1')}").json() == got.json()
    assert trained.http.get(f"/v1/{endpoint}").json() == {
        "name": endpoint,
        "displayName": "Plus one",
        "deployedModels": [
            {
                "id": deployed_id,
                "model": model.removesuffix("@1"),
                "modelVersionId": "1",
                "displayName": "Plus one",
                "createTime": END,
            }
        ],
        "labels": {"team": "search"},
        "createTime": END,
        "updateTime": END,
    }


def test_no_model_before_the_job_succeeds(trained: Served) -> None:
    name = trained.create_job()["name"]
    trained.clock.advance(100)
    model = trained.http.get(f"/v1/{name}").json()["tunedModel"]["model"]
    trained.clock.now -= 99
    r = trained.http.get(f"/v1/{model}")
    assert (r.status_code, r.json()) == (
        404,
        error(404, f"Model `{model}` not found.", "NOT_FOUND"),
    )


def test_patch_changes_the_model_in_place(trained: Served, job: dict[str, Any]) -> None:
    model = job["tunedModel"]["model"].removesuffix("@1")
    trained.clock.advance(10)
    r = trained.http.patch(
        f"/v1/{model}",
        params={"updateMask": "displayName,description,labels"},
        json={"displayName": "Plus one v2", "description": "", "labels": {"team": "ads"}},
    )
    assert r.status_code == 200
    patched = r.json()
    assert (patched["displayName"], patched["labels"]) == ("Plus one v2", {"team": "ads"})
    assert "description" not in patched
    assert patched["updateTime"] == "2023-11-14T22:15:10.000000Z"
    assert trained.http.get(f"/v1/{model}").json() == patched
    # The job, immutable, is unchanged.
    assert trained.http.get(f"/v1/{job['name']}").json() == job


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ("", "update_mask is required."),
        (
            "baseModel",
            "Invalid update_mask path: baseModel. Supported paths: display_name, description, "
            "labels, version_description.",
        ),
        (
            "displayName,versionDescription",
            "Model fields and version fields cannot be updated in one request.",
        ),
    ],
)
def test_patch_needs_a_valid_mask(
    trained: Served, job: dict[str, Any], mask: str, message: str
) -> None:
    model = job["tunedModel"]["model"]
    before = trained.http.get(f"/v1/{model}").json()
    r = trained.http.patch(f"/v1/{model}", params={"updateMask": mask}, json={"displayName": "x"})
    assert (r.status_code, r.json()) == (400, error(400, message, "INVALID_ARGUMENT"))
    assert trained.http.get(f"/v1/{model}").json() == before


def test_undeploy_then_delete_endpoint_and_model(trained: Served, job: dict[str, Any]) -> None:
    http = trained.http
    model = job["tunedModel"]["model"].removesuffix("@1")
    endpoint = job["tunedModel"]["endpoint"]
    deployed_id = http.get(f"/v1/{endpoint}").json()["deployedModels"][0]["id"]
    refused = http.delete(f"/v1/{model}")
    assert (refused.status_code, refused.json()) == (
        400,
        error(
            400,
            f"The model {model} is deployed to endpoint {endpoint}; undeploy it first.",
            "FAILED_PRECONDITION",
        ),
    )
    busy = http.delete(f"/v1/{endpoint}")
    assert busy.json()["error"]["status"] == "FAILED_PRECONDITION"
    wrong = http.post(f"/v1/{endpoint}:undeployModel", json={"deployedModelId": "1"})
    assert wrong.status_code == 404

    op = http.post(f"/v1/{endpoint}:undeployModel", json={"deployedModelId": deployed_id}).json()
    assert op == {
        "name": op["name"],
        "metadata": {
            "@type": "type.googleapis.com/google.cloud.aiplatform.v1.UndeployModelOperationMetadata",
            "genericMetadata": {
                "createTime": "2023-11-14T22:15:00.000000Z",
                "updateTime": "2023-11-14T22:15:00.000000Z",
            },
        },
        "done": True,
        "response": {
            "@type": "type.googleapis.com/google.cloud.aiplatform.v1.UndeployModelResponse"
        },
    }
    assert op["name"].startswith(f"projects/{NUMBER}/locations/{LOCATION}/operations/")
    assert http.get(f"/v1/{op['name']}").json() == op
    assert "deployedModels" not in http.get(f"/v1/{endpoint}").json()
    assert "deployedModels" not in http.get(f"/v1/{model}").json()
    idle = http.post(
        f"/v1/{endpoint}:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert (idle.status_code, idle.json()) == (
        400,
        error(400, f"Endpoint `{endpoint}` has no deployed model.", "FAILED_PRECONDITION"),
    )

    gone = http.delete(f"/v1/{endpoint}").json()
    assert gone["done"] is True
    assert gone["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    assert http.get(f"/v1/{endpoint}").status_code == 404
    assert http.delete(f"/v1/{model}").json()["done"] is True
    missing = http.get(f"/v1/{model}")
    assert (missing.status_code, missing.json()) == (
        404,
        error(404, f"Model `{model}` not found.", "NOT_FOUND"),
    )
    # A job record stays for ever, naming what it produced.
    assert http.get(f"/v1/{job['name']}").json() == job
    unknown = http.get(f"/v1/projects/{PROJECT}/locations/{LOCATION}/operations/42")
    assert unknown.status_code == 404


def test_operations_finish_operation_seconds_later(trained: Served, job: dict[str, Any]) -> None:
    http = trained.http
    assert http.put("/emulator/config", json={"operationSeconds": 30}).status_code == 200
    endpoint = job["tunedModel"]["endpoint"]
    deployed_id = http.get(f"/v1/{endpoint}").json()["deployedModels"][0]["id"]
    running = http.post(f"/v1/{endpoint}:undeployModel", json={"deployedModelId": deployed_id})
    op = running.json()
    # Still running: proto JSON leaves out done=false, and there is no response yet.
    assert set(op) == {"name", "metadata"}
    # The change itself is made at once (emulator choice).
    assert "deployedModels" not in http.get(f"/v1/{endpoint}").json()
    trained.clock.advance(29)
    assert set(http.get(f"/v1/{op['name']}").json()) == {"name", "metadata"}
    trained.clock.advance(1)
    done = http.get(f"/v1/{op['name']}").json()
    assert done["done"] is True
    assert done["metadata"]["genericMetadata"] == {
        "createTime": "2023-11-14T22:15:00.000000Z",
        "updateTime": "2023-11-14T22:15:30.000000Z",
    }
    assert http.put("/emulator/config", json={"operationSeconds": -1}).status_code == 400


def test_models_list_pages_filters_by_label_and_leaves_deleted_and_running_out(
    trained: Served,
) -> None:
    names = [
        trained.create_job(labels={"team": "search" if i % 2 else "ads"})["name"] for i in range(5)
    ]
    trained.clock.advance(100)
    trained.create_job(labels={"team": "search"})  # still running: it has no Model yet
    done = [trained.http.get(f"/v1/{name}").json()["tunedModel"] for name in names]
    gone = done[0]
    deployed = trained.http.get(f"/v1/{gone['endpoint']}").json()["deployedModels"][0]["id"]
    trained.http.post(f"/v1/{gone['endpoint']}:undeployModel", json={"deployedModelId": deployed})
    assert trained.http.delete(f"/v1/{gone['model']}").status_code == 200
    models = f"/v1/projects/{PROJECT}/locations/{LOCATION}/models"

    first = trained.http.get(models, params={"pageSize": 3}).json()
    rest = trained.http.get(
        models, params={"pageSize": 3, "pageToken": first["nextPageToken"]}
    ).json()
    search = trained.http.get(models, params={"filter": 'labels.team="search"'}).json()

    listed = [m["name"] for m in first["models"] + rest["models"]]
    assert sorted(listed) == sorted(t["model"].removesuffix("@1") for t in done[1:])
    assert "nextPageToken" not in rest
    assert {m["labels"]["team"] for m in search["models"]} == {"search"}
    assert len(search["models"]) == 2  # jobs 1 and 3; the running job has no Model yet
    mixed = trained.http.get(models, params={"pageSize": 2, "pageToken": first["nextPageToken"]})
    assert mixed.status_code == 400  # a token belongs to its own page size and filter
