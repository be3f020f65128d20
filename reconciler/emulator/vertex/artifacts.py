"""The Model and Endpoint a succeeded tuning job produced: get, patch, undeploy, delete.

The job itself is immutable, but its Model's display name, description and
labels can change (``PATCH`` with a required ``updateMask``), and the Model
can be removed: undeploy it from its Endpoint, delete the Endpoint, delete the
Model, each answering a long-running Operation (done at once here, and also
readable with ``GET .../operations/{op}``; with ``operationSeconds`` set, done
that long after it starts, the change itself being made at once). A Model
still deployed cannot be deleted, nor an Endpoint still serving one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.responses import Response

from reconciler.emulator.call import Call
from reconciler.emulator.vertex import catalog, filters, paging
from reconciler.emulator.vertex.jobs import SUCCEEDED, TuningJobRecord, progress
from reconciler.emulator.wire import ApiError, invalid, json_response, rfc3339

V1 = "type.googleapis.com/google.cloud.aiplatform.v1"
MODEL_PAGE_SIZE = 100  # models.list: the service's maximum page size (emulator choice)
MODEL_FIELDS = frozenset({"displayName", "description", "labels"})
VERSION_FIELDS = frozenset({"versionDescription", "labels"})


def deployed_model_id(record: TuningJobRecord) -> str:
    """A stable 19-digit id of the model's deployment on its endpoint."""
    digest = int.from_bytes(hashlib.sha256(record.endpoint_id.encode()).digest()[:8], "big")
    return str(10**18 + digest % (9 * 10**18))


def _parent(call: Call) -> str:
    return f"projects/{catalog.project_number(call.params['project'])}/locations/{call.params['location']}"


def _finished(call: Call, record: TuningJobRecord | None) -> TuningJobRecord | None:
    if record is None or progress(record, call.now).state != SUCCEEDED:
        return None
    return record


def _model(call: Call) -> TuningJobRecord:
    """The record whose Model the path names (``M``, or its only version ``M@1``)."""
    model_id, at, version = call.params["model"].partition("@")
    name = f"{_parent(call)}/models/{model_id}"
    record = _finished(call, call.emulator.vertex.by_model(name))
    if (
        record is None
        or record.model_deleted_at is not None
        or version not in ("", "1", "-", "default")
    ):
        raise ApiError(404, f"Model `{name}{at}{version}` not found.")
    return record


def _endpoint(call: Call) -> TuningJobRecord:
    name = f"{_parent(call)}/endpoints/{call.params['endpoint']}"
    record = _finished(call, call.emulator.vertex.by_endpoint(name))
    if record is None or record.endpoint_deleted_at is not None:
        raise ApiError(404, f"Endpoint `{name}` not found.")
    return record


def deployed(record: TuningJobRecord) -> bool:
    return record.undeployed_at is None and record.endpoint_deleted_at is None


def model_json(record: TuningJobRecord, now: float) -> dict[str, Any]:
    prog = progress(record, now)
    created = prog.end_time if prog.end_time is not None else record.create_time
    updated = record.model_update_time or created
    body: dict[str, Any] = {
        "name": record.model.removesuffix("@1"),
        "versionId": "1",
        "versionAliases": ["default"],
        "versionCreateTime": rfc3339(created),
        "versionUpdateTime": rfc3339(updated),
        "displayName": record.model_display_name,
    }
    if record.model_description:
        body["description"] = record.model_description
    if record.version_description:
        body["versionDescription"] = record.version_description
    body["labels"] = dict(record.model_labels)
    body["createTime"] = rfc3339(created)
    body["updateTime"] = rfc3339(updated)
    if deployed(record):
        body["deployedModels"] = [
            {"endpoint": record.endpoint, "deployedModelId": deployed_model_id(record)}
        ]
    return body


def endpoint_json(record: TuningJobRecord, now: float) -> dict[str, Any]:
    prog = progress(record, now)
    created = prog.end_time if prog.end_time is not None else record.create_time
    updated = record.undeployed_at or created
    body: dict[str, Any] = {"name": record.endpoint, "displayName": record.model_display_name}
    if deployed(record):
        body["deployedModels"] = [
            {
                "id": deployed_model_id(record),
                "model": record.model.removesuffix("@1"),
                "modelVersionId": "1",
                "displayName": record.model_display_name,
                "createTime": rfc3339(created),
            }
        ]
    body["labels"] = dict(record.labels)
    body["createTime"] = rfc3339(created)
    body["updateTime"] = rfc3339(updated)
    return body


def get_model(call: Call) -> Response:
    record = _model(call)
    return json_response(model_json(record, call.now))


def list_models(call: Call) -> Response:
    """The tuned Models of a project and location, newest first, paged; label filters apply.

    Only Models whose job succeeded and that were not deleted are listed.
    """
    parent = _parent(call)
    size = call.page_size(default=MODEL_PAGE_SIZE, maximum=MODEL_PAGE_SIZE)
    text = call.query.get("filter", "")
    matches = filters.parse(text)
    bound = paging.binding(parent, size, text)
    before = paging.cursor(call.query.get("pageToken", ""), bound)
    page: list[dict[str, Any]] = []
    last_seq = 0
    more = False
    for record in call.emulator.vertex.newest_first():
        if not record.model.startswith(f"{parent}/models/") or (before and record.seq >= before):
            continue
        if _finished(call, record) is None or record.model_deleted_at is not None:
            continue
        if not matches(record.model_labels, ""):
            continue
        if len(page) == size:
            more = True
            break
        page.append(model_json(record, call.now))
        last_seq = record.seq
    body: dict[str, Any] = {}
    if page:
        body["models"] = page
    if more:
        body["nextPageToken"] = paging.token(last_seq, bound)
    return json_response(body)


def patch_model(call: Call) -> Response:
    record = _model(call)
    mask = [p.strip() for p in call.query.get("updateMask", "").split(",") if p.strip()]
    if not mask:
        raise invalid("update_mask is required.")
    unknown = [p for p in mask if p not in MODEL_FIELDS | VERSION_FIELDS]
    if unknown:
        raise invalid(
            f"Invalid update_mask path: {unknown[0]}. Supported paths: "
            "display_name, description, labels, version_description."
        )
    if set(mask) & {"displayName", "description"} and "versionDescription" in mask:
        raise invalid("Model fields and version fields cannot be updated in one request.")
    body = call.body
    for path in mask:
        value = body.get(path)
        if path == "labels":
            labels = value if isinstance(value, dict) else {}
            if not all(isinstance(v, str) for v in labels.values()):
                raise invalid("labels must be an object of strings.")
            record.model_labels = dict(labels)
            continue
        if value is not None and not isinstance(value, str):
            raise invalid(f"Invalid value at '{path}' (TYPE_STRING), {value!r}")
        text = value or ""
        if path == "displayName":
            if not text:
                raise invalid("display_name must not be empty.")
            record.model_display_name = text
        elif path == "description":
            record.model_description = text
        else:
            record.version_description = text
    record.model_update_time = call.now
    call.emulator.vertex.put(record)
    return json_response(model_json(record, call.now))


def delete_model(call: Call) -> Response:
    record = _model(call)
    if deployed(record):
        raise ApiError(
            400,
            f"The model {record.model.removesuffix('@1')} is deployed to endpoint "
            f"{record.endpoint}; undeploy it first.",
            status="FAILED_PRECONDITION",
        )
    record.model_deleted_at = call.now
    call.emulator.vertex.put(record)
    return _operation(call, "DeleteOperationMetadata", "google.protobuf.Empty")


def get_endpoint(call: Call) -> Response:
    return json_response(endpoint_json(_endpoint(call), call.now))


def undeploy(call: Call) -> Response:
    record = _endpoint(call)
    wanted = call.body.get("deployedModelId")
    if not wanted:
        raise invalid("deployed_model_id is required.")
    if not deployed(record) or str(wanted) != deployed_model_id(record):
        raise ApiError(404, f"Deployed model {wanted} not found on endpoint {record.endpoint}.")
    record.undeployed_at = call.now
    call.emulator.vertex.put(record)
    return _operation(
        call,
        "UndeployModelOperationMetadata",
        f"{V1.removeprefix('type.googleapis.com/')}.UndeployModelResponse",
    )


def delete_endpoint(call: Call) -> Response:
    record = _endpoint(call)
    if deployed(record):
        raise ApiError(
            400,
            f"Endpoint {record.endpoint} has a deployed model; undeploy it first.",
            status="FAILED_PRECONDITION",
        )
    record.endpoint_deleted_at = call.now
    call.emulator.vertex.put(record)
    return _operation(call, "DeleteOperationMetadata", "google.protobuf.Empty")


# Kept with a stored operation: when it is done, by the emulator's clock (never shown).
_DONE_AT = "emulatorDoneAt"


def _operation(call: Call, metadata: str, response: str) -> Response:
    """The change is made at once; the Operation is done ``operationSeconds`` later."""
    name = f"{_parent(call)}/operations/{call.emulator.random_numeric_id()}"
    operation = {
        "name": name,
        "metadata": {
            "@type": f"{V1}.{metadata}",
            "genericMetadata": {"createTime": rfc3339(call.now), "updateTime": rfc3339(call.now)},
        },
        "done": True,
        "response": {"@type": f"type.googleapis.com/{response}"},
        _DONE_AT: call.now + call.emulator.config.operation_seconds,
    }
    call.emulator.vertex.add_operation(operation)
    return json_response(operation_json(operation, call.now))


def operation_json(stored: dict[str, Any], now: float) -> dict[str, Any]:
    """The Operation as of ``now``: while running, no ``done`` (false) and no ``response``."""
    shown = {key: value for key, value in stored.items() if key != _DONE_AT}
    done_at = stored.get(_DONE_AT)
    if isinstance(done_at, int | float) and now < done_at:
        del shown["done"], shown["response"]
        return shown
    if isinstance(done_at, int | float):
        meta = dict(shown["metadata"])
        generic = dict(meta["genericMetadata"])
        generic["updateTime"] = rfc3339(max(done_at, 0.0))
        meta["genericMetadata"] = generic
        shown["metadata"] = meta
    return shown


def get_operation(call: Call) -> Response:
    name = f"{_parent(call)}/operations/{call.params['op']}"
    operation = call.emulator.vertex.operation(name)
    if operation is None:
        raise ApiError(404, f"Operation `{name}` not found.")
    return json_response(operation_json(operation, call.now))
