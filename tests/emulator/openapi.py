"""Validate emulator responses against the v1beta OpenAPI document, strictly.

The document is Google's discovery doc converted to OpenAPI 3; its component
schemas are the authoritative field list. For our check every object schema
gets ``additionalProperties: false``, so an unknown or misspelled field in a
response fails, as it would in google-generativeai's strict Operation parser.

Two shapes are not in the document and are written here from the wire facts:
the HTTP error envelope (google.rpc.Status plus its ``status`` name) and
CreateTunedModelMetadata, the ``metadata`` of a create operation.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# The schemas reachable from the responses we write, copied unchanged from the
# reference OpenAPI document so the check runs on a fresh clone.
OPENAPI = Path(__file__).with_name("openapi_v1beta_schemas.json")
_REF_ROOT = "urn:generativelanguage-v1beta"

# RFC 3339 UTC, up to 9 fractional digits, as the service writes timestamps.
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")

_EXTRA_SCHEMAS: dict[str, Any] = {
    "ErrorResponse": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "status"],
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    # google.rpc.Code names, as the Google front end writes them.
                    "status": {
                        "enum": [
                            "INVALID_ARGUMENT",
                            "FAILED_PRECONDITION",
                            "UNAUTHENTICATED",
                            "PERMISSION_DENIED",
                            "NOT_FOUND",
                            "ALREADY_EXISTS",
                            "RESOURCE_EXHAUSTED",
                            "INTERNAL",
                            "UNAVAILABLE",
                        ]
                    },
                    "details": {
                        "type": "array",
                        "items": {"type": "object", "required": ["@type"]},
                    },
                },
            }
        },
    },
    "CreateTunedModelMetadata": {
        "type": "object",
        "required": ["@type", "tunedModel", "totalSteps"],
        "properties": {
            "@type": {
                "const": "type.googleapis.com/google.ai.generativelanguage.v1beta.CreateTunedModelMetadata"
            },
            "tunedModel": {"type": "string"},
            "totalSteps": {"type": "integer"},
            "completedSteps": {"type": "integer"},
            "completedPercent": {"type": "number"},
            "snapshots": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/TuningSnapshot"},
            },
        },
    },
}
TUNED_MODEL_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.TunedModel"


def _strict(node: Any, *, int_enums: bool, partial: bool) -> Any:
    """Close every object schema; with ``int_enums``, enum fields must be numbers.

    ``partial`` drops every ``required``: a partial response (``fields``) holds
    only what was asked for, but still nothing unknown or wrongly typed.
    """
    if isinstance(node, list):
        return [_strict(item, int_enums=int_enums, partial=partial) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: _strict(value, int_enums=int_enums, partial=partial)
        for key, value in node.items()
        if not (partial and key == "required" and isinstance(value, list))
    }
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if "enum" in out and out.get("type") == "string" and int_enums:
        # Proto enums are numbered in declaration order from 0 for the ones we emit.
        out = {"type": "integer", "enum": list(range(len(out["enum"])))}
    if out.get("format") == "google-datetime":
        out["pattern"] = _TIMESTAMP.pattern
    return out


@cache
def _registry(int_enums: bool, partial: bool) -> Registry:
    document = json.loads(OPENAPI.read_text())
    schemas = copy.deepcopy(document["components"]["schemas"])
    schemas.update(copy.deepcopy(_EXTRA_SCHEMAS))
    schemas = _strict(schemas, int_enums=int_enums, partial=partial)
    # An Any keeps its "@type" even in a partial response: a client cannot
    # decode the rest without it.
    schemas["CreateTunedModelMetadata"].setdefault("required", ["@type"])
    # An Any holding a TunedModel: the closed TunedModel plus its "@type".
    schemas["TunedModelAny"] = {
        **schemas["TunedModel"],
        "properties": {**schemas["TunedModel"]["properties"], "@type": {"const": TUNED_MODEL_TYPE}},
        "required": ["@type"],
    }
    root = {"components": {"schemas": schemas}}
    return Registry().with_resource(_REF_ROOT, Resource(contents=root, specification=DRAFT202012))


def validate(
    instance: Any, schema_name: str, *, int_enums: bool = False, partial: bool = False
) -> None:
    """Raise jsonschema.ValidationError if ``instance`` is not a valid ``schema_name``.

    An Operation's ``metadata`` and ``response`` (free-form Any in the document)
    are checked as CreateTunedModelMetadata and TunedModel, and an Operation may
    not carry both ``error`` and ``response``. ``partial`` checks a partial
    response: no field is required (except an Any's ``@type``).
    """
    schema = {"$ref": f"{_REF_ROOT}#/components/schemas/{schema_name}"}
    validator = jsonschema.Draft202012Validator(schema, registry=_registry(int_enums, partial))
    validator.validate(instance)
    for operation in _operations(instance, schema_name):
        assert not ("error" in operation and "response" in operation), operation
        for key, schema_of in (
            ("metadata", "CreateTunedModelMetadata"),
            ("response", "TunedModelAny"),
        ):
            if key in operation:
                validate(operation[key], schema_of, int_enums=int_enums, partial=partial)


def _operations(instance: Any, schema_name: str) -> list[dict[str, Any]]:
    if schema_name == "Operation":
        return [instance]
    if schema_name == "ListOperationsResponse":
        return list(instance.get("operations", []))
    return []
