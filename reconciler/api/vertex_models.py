"""Model and Endpoint answers read into small values; live data is untrusted, so it is bounded.

A succeeded tuning job leaves a Model in the Model Registry and an Endpoint
serving it. Only what reconciling needs is kept: the names, the mutable
fields of the Model (display name, description, labels) and which deployment
of which model an Endpoint holds (the ``deployedModelId`` an undeploy needs).
Parsed leniently, like ``vertex_jobs``: unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.api.vertex_jobs import MAX_LABELS, MAX_TEXT
from reconciler.errors import ApiError, UsageError

# Model fields a PATCH may change (updateMask paths), by the names callers may use.
MODEL_MASK_PATHS = {
    "displayName": "displayName",
    "display_name": "displayName",
    "description": "description",
    "labels": "labels",
}
# More deployments than this on one endpoint are not read (a tuned endpoint has one).
MAX_DEPLOYED = 100


@dataclass(frozen=True)
class Deployment:
    """One model deployed to one endpoint."""

    endpoint: str
    deployed_model_id: str
    model: str = ""  # projects/N/locations/L/models/M, as the Endpoint lists it


@dataclass(frozen=True)
class VertexModel:
    name: str  # projects/N/locations/L/models/M (no @version)
    display_name: str
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    update_time: str = ""
    version_id: str = ""
    deployments: tuple[Deployment, ...] = ()


@dataclass(frozen=True)
class VertexEndpoint:
    name: str
    display_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    deployments: tuple[Deployment, ...] = ()


def _text(value: Any) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {_text(k): _text(v) for k, v in list(value.items())[:MAX_LABELS] if isinstance(v, str)}


def _objects(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value[:MAX_DEPLOYED] if isinstance(item, dict)]


def _name(data: dict[str, Any], what: str) -> str:
    name = _text(data.get("name"))
    if not name:
        raise ApiError(f"a {what} answer has no name")
    return name


def parse_model(data: dict[str, Any]) -> VertexModel:
    """A Model; its ``deployedModels`` are references ``{endpoint, deployedModelId}``."""
    deployments = tuple(
        Deployment(
            endpoint=_text(ref.get("endpoint")), deployed_model_id=_text(ref.get("deployedModelId"))
        )
        for ref in _objects(data.get("deployedModels"))
        if _text(ref.get("endpoint")) and _text(ref.get("deployedModelId"))
    )
    name = _name(data, "Model")
    return VertexModel(
        name=name,
        display_name=_text(data.get("displayName")),
        description=_text(data.get("description")),
        labels=_labels(data.get("labels")),
        update_time=_text(data.get("updateTime")),
        version_id=_text(data.get("versionId")),
        deployments=deployments,
    )


def parse_endpoint(data: dict[str, Any]) -> VertexEndpoint:
    """An Endpoint; its ``deployedModels`` are ``{id, model, ...}``."""
    name = _name(data, "Endpoint")
    deployments = tuple(
        Deployment(
            endpoint=name, deployed_model_id=_text(item.get("id")), model=_text(item.get("model"))
        )
        for item in _objects(data.get("deployedModels"))
        if _text(item.get("id"))
    )
    return VertexEndpoint(
        name=name,
        display_name=_text(data.get("displayName")),
        labels=_labels(data.get("labels")),
        deployments=deployments,
    )


def unversioned(model: str) -> str:
    """``.../models/M@1`` -> ``.../models/M``: the name the Model registry answers with."""
    return model.partition("@")[0]


def patch_body(
    update_mask: Sequence[str],
    *,
    display_name: str | None,
    description: str | None,
    labels: Mapping[str, str] | None,
) -> tuple[list[str], dict[str, Any]]:
    """The ``updateMask`` paths (camelCase, as sent) and the body a Model PATCH sends.

    A UsageError, before any request, for a path that is not a Model field
    reconciler changes or that names a field without a new value.
    """
    values: dict[str, Any] = {
        "displayName": display_name,
        "description": description,
        "labels": None if labels is None else dict(labels),
    }
    mask: list[str] = []
    for path in update_mask:
        field_name = MODEL_MASK_PATHS.get(path)
        if field_name is None:
            raise UsageError(
                f"cannot update Model field {path!r}: "
                "updateMask takes displayName, description and labels"
            )
        if values[field_name] is None:
            raise UsageError(f"updateMask names {field_name} but no new value is given")
        if field_name not in mask:
            mask.append(field_name)
    if not mask:
        raise UsageError("a Model update needs an updateMask naming at least one field")
    return mask, {path: values[path] for path in mask}
