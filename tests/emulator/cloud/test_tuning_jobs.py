"""tuningJobs create/get/list/cancel over real HTTP: exact bodies, errors, the clock-driven lifecycle."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from reconciler.emulator.vertex.catalog import project_number
from tests.support.cloud import (
    BUCKET,
    EXAMPLES,
    JOBS,
    LOCATION,
    PROJECT,
    Served,
    job_body,
    jsonl,
)

NUMBER = project_number(PROJECT)
NAME = re.compile(rf"projects/{NUMBER}/locations/{LOCATION}/tuningJobs/\d{{19}}")
SPEC = {
    "trainingDatasetUri": f"gs://{BUCKET}/train.jsonl",
    "hyperParameters": {"epochCount": "2", "adapterSize": "ADAPTER_SIZE_FOUR"},
}
STATS = {
    "supervisedTuningDataStats": {
        "tuningDatasetExampleCount": "16",
        "totalTuningCharacterCount": str(sum(len(p) + len(r) for p, r in EXAMPLES)),
        "totalBillableTokenCount": str(-(-sum(len(p) + len(r) for p, r in EXAMPLES) // 4) * 2),
        "tuningStepCount": "4",
    }
}


def status(code: int, message: str, name: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": name}}


def test_create_answers_the_queued_job_with_a_server_assigned_id(trained: Served) -> None:
    job = trained.create_job(
        tunedModelDisplayName="Plus one",
        description="adds one",
        labels={"managed-by": "reconciler", "reconciler-key": "k1"},
    )
    assert NAME.fullmatch(job["name"])
    assert job == {
        "name": job["name"],
        "tunedModelDisplayName": "Plus one",
        "description": "adds one",
        "baseModel": "gemini-2.5-flash",
        "supervisedTuningSpec": SPEC,
        "state": "JOB_STATE_PENDING",
        "createTime": "2023-11-14T22:13:20.000000Z",
        "updateTime": "2023-11-14T22:13:20.000000Z",
        "labels": {"managed-by": "reconciler", "reconciler-key": "k1"},
    }
    assert trained.emulator.stats.as_json()["creates"] == {job["name"]: 1}


def test_lifecycle_pending_running_succeeded_as_the_clock_moves(trained: Served) -> None:
    name = trained.create_job()["name"]
    get = lambda: trained.http.get(f"/v1/{name}").json()  # noqa: E731
    assert get()["state"] == "JOB_STATE_PENDING"
    trained.clock.advance(1)  # one step queued
    running = get()
    assert running["state"] == "JOB_STATE_RUNNING"
    assert running["startTime"] == "2023-11-14T22:13:21.000000Z"
    assert running["tuningDataStats"] == STATS
    assert "tunedModel" not in running and "endTime" not in running
    trained.clock.advance(3.5)
    assert get()["state"] == "JOB_STATE_RUNNING"
    trained.clock.advance(0.5)  # four steps of one second
    done = get()
    model_id, endpoint_id = (
        done["tunedModel"]["model"].split("/models/")[1],
        done["tunedModel"]["endpoint"].rsplit("/", 1)[1],
    )
    assert re.fullmatch(r"\d{19}@1", model_id) and re.fullmatch(r"\d{19}", endpoint_id)
    assert done == {
        "name": name,
        "baseModel": "gemini-2.5-flash",
        "supervisedTuningSpec": SPEC,
        "state": "JOB_STATE_SUCCEEDED",
        "createTime": "2023-11-14T22:13:20.000000Z",
        "startTime": "2023-11-14T22:13:21.000000Z",
        "endTime": "2023-11-14T22:13:25.000000Z",
        "updateTime": "2023-11-14T22:13:25.000000Z",
        "tuningDataStats": STATS,
        "tunedModel": {
            "model": f"projects/{NUMBER}/locations/{LOCATION}/models/{model_id}",
            "endpoint": f"projects/{NUMBER}/locations/{LOCATION}/endpoints/{endpoint_id}",
        },
    }
    # The project id and its number name the same job, under v1 and v1beta1.
    job_id = name.rsplit("/", 1)[1]
    by_id = trained.http.get(
        f"/v1beta1/projects/{PROJECT}/locations/{LOCATION}/tuningJobs/{job_id}"
    )
    assert by_id.json() == done


def test_a_job_can_fail(trained: Served) -> None:
    trained.emulator.config.tuning_fail_rate = 1.0
    name = trained.create_job()["name"]
    trained.clock.advance(60)
    job = trained.http.get(f"/v1/{name}").json()
    assert job["state"] == "JOB_STATE_FAILED"
    assert job["error"] == {
        "code": 13,
        "message": "Tuning failed: the training pipeline stopped with an internal error.",
    }
    assert job["endTime"] == "2023-11-14T22:13:23.000000Z"  # halfway: 2 of 4 steps
    assert "tunedModel" not in job


def test_a_job_can_expire_in_the_queue(trained: Served) -> None:
    assert trained.http.put("/emulator/config", json={"tuningExpireRate": 1.0}).status_code == 200
    name = trained.create_job()["name"]
    trained.clock.advance(9)  # it waits 10 steps of 1 s
    queued = trained.http.get(f"/v1/{name}").json()
    assert queued["state"] == "JOB_STATE_PENDING"
    trained.clock.advance(1)
    job = trained.http.get(f"/v1/{name}").json()
    assert job["state"] == "JOB_STATE_EXPIRED"
    assert job["endTime"] == job["updateTime"] == "2023-11-14T22:13:30.000000Z"
    # It never ran: no startTime, no data statistics, no error (that is for FAILED and
    # CANCELLED), no model.
    assert not {"startTime", "tuningDataStats", "error", "tunedModel"} & set(job)
    expired = trained.http.get(JOBS, params={"filter": "state=JOB_STATE_EXPIRED"}).json()
    assert [j["name"] for j in expired["tuningJobs"]] == [name]
    # Cancelling a finished job changes nothing; cancelling a queued one wins over expiry.
    trained.http.post(f"/v1/{name}:cancel", json={})
    assert trained.http.get(f"/v1/{name}").json() == job
    other = trained.create_job()["name"]
    trained.http.post(f"/v1/{other}:cancel", json={})
    trained.clock.advance(100)
    assert trained.http.get(f"/v1/{other}").json()["state"] == "JOB_STATE_CANCELLED"
    assert trained.http.put("/emulator/config", json={"tuningExpireRate": 2}).status_code == 400


def test_cancel_is_asynchronous_and_a_finished_job_is_left_alone(trained: Served) -> None:
    name = trained.create_job()["name"]
    trained.clock.advance(2)
    assert trained.http.post(f"/v1/{name}:cancel", json={}).json() == {}
    cancelling = trained.http.get(f"/v1/{name}").json()
    assert cancelling["state"] == "JOB_STATE_CANCELLING"
    assert cancelling["updateTime"] == "2023-11-14T22:13:22.000000Z"
    trained.clock.advance(1)
    cancelled = trained.http.get(f"/v1/{name}").json()
    assert cancelled["state"] == "JOB_STATE_CANCELLED"
    assert cancelled["error"] == {"code": 1, "message": "CANCELED"}
    assert cancelled["endTime"] == "2023-11-14T22:13:23.000000Z"
    trained.clock.advance(100)
    assert trained.http.get(f"/v1/{name}").json() == cancelled

    finished = trained.create_job()["name"]
    trained.clock.advance(100)
    before = trained.http.get(f"/v1/{finished}").json()
    assert trained.http.post(f"/v1/{finished}:cancel", json={}).json() == {}
    assert trained.http.get(f"/v1/{finished}").json() == before


def test_cancelled_while_queued_never_starts(trained: Served) -> None:
    name = trained.create_job()["name"]
    trained.http.post(f"/v1/{name}:cancel")
    trained.clock.advance(100)
    job = trained.http.get(f"/v1/{name}").json()
    assert job["state"] == "JOB_STATE_CANCELLED"
    assert "startTime" not in job and "tuningDataStats" not in job


def test_unknown_job_and_no_delete(trained: Served) -> None:
    name = f"projects/{NUMBER}/locations/{LOCATION}/tuningJobs/1234567890123456789"
    r = trained.http.get(f"/v1/{name}")
    assert (r.status_code, r.json()) == (
        404,
        status(404, f"TuningJob {name} does not exist.", "NOT_FOUND"),
    )
    job = trained.create_job()["name"]
    assert trained.http.delete(f"/v1/{job}").status_code == 404
    assert trained.http.patch(f"/v1/{job}", json={}).status_code == 404


def test_snake_case_body_keeps_label_keys_as_written(trained: Served) -> None:
    body = {
        "base_model": "gemini-2.5-flash",
        "supervised_tuning_spec": {"training_dataset_uri": f"gs://{BUCKET}/train.jsonl"},
        "labels": {"managed_by": "reconciler"},
    }
    job = trained.http.post(JOBS, json=body).json()
    assert job["labels"] == {"managed_by": "reconciler"}
    assert job["supervisedTuningSpec"] == {"trainingDatasetUri": f"gs://{BUCKET}/train.jsonl"}


def test_gemini_3_models_tune_in_one_region_and_serve_from_a_multi_region(trained: Served) -> None:
    wrong = trained.http.post(JOBS, json=job_body(base_model="gemini-3.5-flash").copy())
    assert wrong.status_code == 200  # us-central1 is allowed
    trained.clock.advance(100)
    endpoint = trained.http.get(f"/v1/{wrong.json()['name']}").json()["tunedModel"]["endpoint"]
    assert endpoint.startswith(f"projects/{NUMBER}/locations/us/endpoints/")
    elsewhere = trained.http.post(
        f"/v1/projects/{PROJECT}/locations/asia-east1/tuningJobs",
        json=job_body(base_model="gemini-3.1-flash-lite"),
    )
    assert (elsewhere.status_code, elsewhere.json()) == (
        400,
        status(
            400,
            "Base model gemini-3.1-flash-lite can be tuned only in us-central1 or europe-west4, "
            "not asia-east1.",
            "INVALID_ARGUMENT",
        ),
    )


def test_overlong_examples_are_counted_as_truncated(served: Served) -> None:
    served.upload("long.jsonl", jsonl([("short", "a"), ("x" * 600_000, "b")]))
    name = served.create_job(dataset="long.jsonl")["name"]
    served.clock.advance(1)
    stats = served.http.get(f"/v1/{name}").json()["tuningDataStats"]["supervisedTuningDataStats"]
    assert stats["totalTruncatedExampleCount"] == "1"
    assert stats["truncatedExampleIndices"] == ["1"]


BAD_LINES = {
    "notjson.jsonl": "{not json\n",
    "role.jsonl": '{"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}\n',
    "lastuser.jsonl": '{"contents": [{"role": "user", "parts": [{"text": "x"}]}]}\n',
    "noparts.jsonl": '{"contents": [{"role": "user", "parts": []}]}\n',
    "nocontents.jsonl": '{"messages": []}\n',
    "empty.jsonl": "\n\n",
}


@pytest.mark.parametrize(
    ("body", "code", "status_name", "message"),
    [
        (
            job_body(base_model="gemini-1.5-flash-002"),
            400,
            "INVALID_ARGUMENT",
            "Base model gemini-1.5-flash-002 is not supported for supervised tuning. Supported "
            "base models: gemini-2.5-flash, gemini-2.5-flash-lite, gemini-2.5-pro, "
            "gemini-3.5-flash, gemini-3.1-flash-lite.",
        ),
        ({"supervisedTuningSpec": {}}, 400, "INVALID_ARGUMENT", "base_model is required."),
        (
            {
                **job_body(base_model="gemini-2.5-pro"),
                "supervisedTuningSpec": {
                    "trainingDatasetUri": f"gs://{BUCKET}/train.jsonl",
                    "hyperParameters": {"adapterSize": "ADAPTER_SIZE_SIXTEEN"},
                },
            },
            400,
            "INVALID_ARGUMENT",
            "The adapter size is not supported for this base model.",
        ),
        (
            job_body(epochs=0),
            400,
            "INVALID_ARGUMENT",
            "epoch_count must be between 1 and 100, got 0.",
        ),
        (
            {
                **job_body(),
                "supervisedTuningSpec": {
                    "trainingDatasetUri": f"gs://{BUCKET}/train.jsonl",
                    "hyperParameters": {"learningRateMultiplier": 0},
                },
            },
            400,
            "INVALID_ARGUMENT",
            "learning_rate_multiplier must be greater than 0 and at most 10, got 0.",
        ),
        (
            job_body(tunedModelDisplayName="x" * 129),
            400,
            "INVALID_ARGUMENT",
            "tuned_model_display_name must be at most 128 characters, got 129.",
        ),
        (
            job_body(labels={"Owner": "me"}),
            400,
            "INVALID_ARGUMENT",
            "Label key 'Owner' is invalid: 1-63 lowercase letters, digits, '_' or '-', "
            "starting with a letter.",
        ),
        (
            {
                "baseModel": "gemini-2.5-flash",
                "supervisedTuningSpec": {"trainingDatasetUri": "https://example.com/train.jsonl"},
            },
            400,
            "INVALID_ARGUMENT",
            "training_dataset_uri must be a Cloud Storage URI gs://BUCKET/OBJECT, "
            "got 'https://example.com/train.jsonl'.",
        ),
        (
            job_body(dataset="missing.jsonl"),
            400,
            "FAILED_PRECONDITION",
            f"training_dataset_uri gs://{BUCKET}/missing.jsonl does not exist or the service "
            "agent cannot read it.",
        ),
        (
            job_body(preTunedModel={"tunedModelName": "projects/1/locations/l/models/2"}),
            400,
            "INVALID_ARGUMENT",
            "The emulator does not emulate continuous tuning (preTunedModel).",
        ),
        (
            job_body(dataset="notjson.jsonl"),
            400,
            "INVALID_ARGUMENT",
            f"Dataset gs://{BUCKET}/notjson.jsonl line 1: not a JSON object.",
        ),
        (
            job_body(dataset="role.jsonl"),
            400,
            "INVALID_ARGUMENT",
            f'Dataset gs://{BUCKET}/role.jsonl line 1: contents[0].role must be "user" or '
            "\"model\", got 'assistant'.",
        ),
        (
            job_body(dataset="lastuser.jsonl"),
            400,
            "INVALID_ARGUMENT",
            f"Dataset gs://{BUCKET}/lastuser.jsonl line 1: the last of contents must have role "
            "model (the expected reply).",
        ),
        (
            job_body(dataset="noparts.jsonl"),
            400,
            "INVALID_ARGUMENT",
            f"Dataset gs://{BUCKET}/noparts.jsonl line 1: contents[0].parts must be a non-empty "
            "list.",
        ),
        (
            job_body(dataset="nocontents.jsonl"),
            400,
            "INVALID_ARGUMENT",
            f"Dataset gs://{BUCKET}/nocontents.jsonl line 1: contents must be a non-empty list.",
        ),
        (
            job_body(dataset="empty.jsonl"),
            400,
            "INVALID_ARGUMENT",
            f"Dataset gs://{BUCKET}/empty.jsonl has no examples.",
        ),
    ],
)
def test_invalid_creates_are_refused_and_create_nothing(
    trained: Served, body: dict[str, Any], code: int, status_name: str, message: str
) -> None:
    for name, text in BAD_LINES.items():
        trained.upload(name, text)
    r = trained.http.post(JOBS, json=body)
    assert (r.status_code, r.json()) == (code, status(code, message, status_name))
    assert trained.http.get(JOBS).json() == {}
    assert trained.emulator.stats.as_json()["creates"] == {}


def test_validation_dataset_is_checked_too(trained: Served) -> None:
    trained.upload("val.jsonl", jsonl([("q", "a")] * 5001))
    body = job_body()
    body["supervisedTuningSpec"]["validationDatasetUri"] = f"gs://{BUCKET}/val.jsonl"
    r = trained.http.post(JOBS, json=body)
    assert (r.status_code, r.json()) == (
        400,
        status(
            400,
            "The validation dataset has 5001 examples; at most 5000 are allowed.",
            "INVALID_ARGUMENT",
        ),
    )


def _names(http: httpx.Client, **params: str) -> list[str]:
    return [j["name"] for j in http.get(JOBS, params=params).json().get("tuningJobs", [])]


def test_list_is_newest_first_in_pages(trained: Served) -> None:
    names = [trained.create_job()["name"] for _ in range(5)]
    first = trained.http.get(JOBS, params={"pageSize": "2"}).json()
    assert [j["name"] for j in first["tuningJobs"]] == names[::-1][:2]
    second = trained.http.get(
        JOBS, params={"pageSize": "2", "pageToken": first["nextPageToken"]}
    ).json()
    assert [j["name"] for j in second["tuningJobs"]] == names[::-1][2:4]
    last = trained.http.get(
        JOBS, params={"pageSize": "2", "pageToken": second["nextPageToken"]}
    ).json()
    assert [j["name"] for j in last["tuningJobs"]] == names[:1] and "nextPageToken" not in last
    # A token belongs to its request: another filter or page size is refused.
    other = trained.http.get(JOBS, params={"pageSize": "3", "pageToken": first["nextPageToken"]})
    assert (other.status_code, other.json()) == (
        400,
        status(
            400,
            "Invalid page token: it does not belong to this list request (filter and page size).",
            "INVALID_ARGUMENT",
        ),
    )
    # Jobs of another location or project are not listed.
    assert (
        trained.http.get(f"/v1/projects/{PROJECT}/locations/europe-west4/tuningJobs").json() == {}
    )


def test_label_filter_finds_a_job_whose_create_answer_was_lost(trained: Served) -> None:
    """The adoption path after a crash: the create happened, the client never saw its name."""
    trained.create_job(labels={"reconciler-key": "other"})
    trained.emulator.config.fault_rate = 1.0
    lost: list[str] = []
    for _ in range(40):  # faults are drawn from a seeded stream; some land after the create
        try:
            r = trained.http.post(JOBS, json=job_body(labels={"reconciler-key": "k7"}))
            lost.append(str(r.status_code))
        except httpx.HTTPError:
            lost.append("drop")
        if lost[-1] in ("500", "drop"):
            break
    assert lost[-1] in ("500", "drop")
    trained.emulator.config.fault_rate = 0.0
    found = trained.http.get(JOBS, params={"filter": "labels.reconciler-key=k7"}).json()
    assert len(found["tuningJobs"]) == 1
    assert found["tuningJobs"][0]["labels"] == {"reconciler-key": "k7"}
    creates = trained.emulator.stats.as_json()["creates"]
    assert creates[found["tuningJobs"][0]["name"]] == 1 and len(creates) == 2


def test_filters_on_labels_and_state(trained: Served) -> None:
    a = trained.create_job(labels={"team": "search", "env": "prod"})["name"]
    trained.clock.advance(100)
    b = trained.create_job(labels={"team": "ads"})["name"]
    c = trained.create_job()["name"]
    http = trained.http
    assert _names(http, filter="labels.team=search") == [a]
    assert _names(http, filter='labels.team="ads"') == [b]
    assert _names(http, filter="labels.team:*") == [b, a]
    assert _names(http, filter="labels:team") == [b, a]
    assert _names(http, filter="labels:env AND labels.team=search") == [a]
    assert _names(http, filter="labels.team!=ads") == [c, a]
    assert _names(http, filter="state=JOB_STATE_SUCCEEDED") == [a]
    assert _names(http, filter="state!=JOB_STATE_SUCCEEDED AND labels.team:*") == [b]
    assert _names(http, filter="labels.team=search labels.env=prod") == [a]
    assert _names(http, filter="labels.team=nobody") == []
    bad = http.get(JOBS, params={"filter": "display_name=x"})
    assert (bad.status_code, bad.json()) == (
        400,
        status(
            400,
            'Unsupported filter "display_name=x": supported terms are labels.KEY=VALUE, '
            "labels.KEY!=VALUE, labels.KEY:*, labels:KEY, state=STATE and state!=STATE.",
            "INVALID_ARGUMENT",
        ),
    )
    assert http.get(JOBS, params={"filter": "labels.team=a OR labels.team=b"}).status_code == 400
