"""One document at a time: kind, apiVersion, schema and per-document rules, as located diagnostics.

Pydantic's ``ValidationError`` never leaves this module: each error becomes a
``Diagnostic`` that names the field path, the line and column where it is
written, and, for unknown keys and names, the closest valid spelling.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.errors import Diagnostic
from reconciler.manifests._backend import backend_document_rules
from reconciler.manifests._rules import did_you_mean, document_rules
from reconciler.manifests._yaml import RawDocument
from reconciler.spec import (
    API_VERSION,
    DISPLAY_NAME_MAX_CHARS,
    INT32_MAX,
    MANIFEST_KINDS,
    MANIFEST_MODELS,
    METRIC_TYPES,
    UNION_TAGS,
)

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
    list: "a list",
    dict: "a mapping",
}
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
# The kind a by-name-or-inline field refers to, by the field's name.
_REFERENCED_KINDS = {
    "trainingData": "Dataset",
    "validationData": "Dataset",
    "dataset": "Dataset",
    "evaluation": "Evaluation",
}
_INT32_RANGE = f"an integer from 1 to {INT32_MAX:,} (the API's int32)"
_FLOAT32_RANGE = "a number > 0 and at most 3.4e38 (the API's 32-bit float)"
_RANGES = {
    "temperature": "between 0.0 and 1.0",
    "topP": "between 0.0 and 1.0",
    "topK": _INT32_RANGE,
    "epochCount": _INT32_RANGE,
    "batchSize": _INT32_RANGE,
    "learningRate": _FLOAT32_RANGE,
    "learningRateMultiplier": _FLOAT32_RANGE,
    "threshold": "between 0.0 and 1.0",
    "maxOutputTokens": "an integer >= 1",
}


def describe(value: Any) -> str:
    """A YAML user's name for a value's type, with the value when short."""
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    if (
        isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and len(repr(value)) <= 40
    ):
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        return f"{kind.split(' ', 1)[1]} {shown}"
    return kind


def check_document(doc: RawDocument) -> tuple[BaseModel | None, list[Diagnostic]]:
    """Validate one document against its kind; returns the model only when it is valid."""
    value = doc.value
    if not isinstance(value, dict):
        message = (
            f"a manifest must be a mapping with apiVersion, kind, metadata and spec, "
            f"not {_TYPE_NAMES.get(type(value), type(value).__name__)}"
        )
        return None, [Diagnostic(doc.location(""), message)]
    found: list[Diagnostic] = []
    api_version = value.get("apiVersion")
    if "apiVersion" not in value:
        found.append(
            Diagnostic(
                doc.location(""),
                "missing `apiVersion`",
                field="apiVersion",
                hint=f"add `apiVersion: {API_VERSION}`",
            )
        )
    elif api_version != API_VERSION:
        found.append(
            Diagnostic(
                doc.location("apiVersion"),
                f"unsupported apiVersion `{api_version}`",
                field="apiVersion",
                hint=f"expected `{API_VERSION}`",
            )
        )
    kind = value.get("kind")
    if "kind" not in value:
        found.append(
            Diagnostic(
                doc.location(""),
                f"missing `kind` (one of {', '.join(sorted(MANIFEST_KINDS))})",
                field="kind",
            )
        )
        return None, found
    if kind not in MANIFEST_MODELS:
        found.append(
            Diagnostic(
                doc.location("kind"),
                f"unknown kind `{kind}`",
                field="kind",
                hint=did_you_mean(str(kind), MANIFEST_KINDS)
                or f"one of {', '.join(sorted(MANIFEST_KINDS))}",
            )
        )
        return None, found
    model_cls = MANIFEST_MODELS[kind]
    model: BaseModel | None = None
    try:
        model = model_cls.model_validate(value)
    except ValidationError as exc:
        for error in exc.errors():
            if error["loc"][:1] not in (("apiVersion",), ("kind",)):
                found.append(_from_pydantic(error, doc, model_cls))
    # The rules read the raw document, so they also run (and report) when
    # the schema check failed elsewhere in it: one run shows every problem.
    found.extend(document_rules(kind, value, doc))
    if kind == "Backend":
        found.extend(backend_document_rules(value, doc))
    return (model if not found else None), found


def _from_pydantic(error: ErrorDetails, doc: RawDocument, root: type[BaseModel]) -> Diagnostic:
    loc = [str(part) for part in error["loc"] if part not in UNION_TAGS]
    path = ".".join(loc)
    kind = error["type"]
    value = error.get("input")
    name = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        parent = ".".join(loc[:-1])
        options = _fields_at(root, loc[:-1])
        where = f" in `{parent}`" if parent else ""
        return Diagnostic(
            doc.location(path, key=True),
            f"unknown field `{name}`{where}",
            field=path,
            hint=did_you_mean(name, options),
        )
    if kind == "missing":
        parent = ".".join(loc[:-1])
        return Diagnostic(
            doc.location(parent, key=True),
            f"missing required field `{path}`",
            field=path,
        )
    if kind in _EXPECTED:
        return Diagnostic(
            doc.location(path),
            f"`{path}` must be {_EXPECTED[kind]}, got {describe(value)}",
            field=path,
        )
    if kind in (
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "finite_number",
    ):
        ctx = error.get("ctx", {})
        ranged = _RANGES.get(name) if "generationConfig" not in loc else None
        bound = ranged or " ".join(
            f"{op} {ctx[key]}"
            for key, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
            if key in ctx
        )
        return Diagnostic(
            doc.location(path), f"`{path}` must be {bound}, got {value!r}", field=path
        )
    if kind == "string_too_long" and name == "displayName":
        return Diagnostic(
            doc.location(path),
            f"`{path}` is {len(str(value))} characters; at most {DISPLAY_NAME_MAX_CHARS} are allowed",
            field=path,
        )
    if kind in ("string_too_short", "too_short"):
        return Diagnostic(doc.location(path), f"`{path}` must not be empty", field=path)
    if kind == "literal_error" and name == "type" and "metrics" in loc:
        return Diagnostic(
            doc.location(path),
            f"unknown metric type `{value}`: use one of {', '.join(METRIC_TYPES)}",
            field=path,
            hint=did_you_mean(str(value), METRIC_TYPES),
        )
    if kind == "literal_error" and name in ("adapterSize", "type"):
        choices = "1, 2, 4, 8, 16 or 32" if name == "adapterSize" else "gemini or vertex"
        return Diagnostic(
            doc.location(path), f"`{path}` must be {choices}, got {describe(value)}", field=path
        )
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        what = _REFERENCED_KINDS.get(name, "Hyperparameters")
        return Diagnostic(
            doc.location(path),
            f"`{path}` must be a {what} name or an inline {what.lower()} mapping, got {describe(value)}",
            field=path,
        )
    return Diagnostic(doc.location(path), f"`{path}`: {error['msg']}", field=path)


def _fields_at(root: type[BaseModel], loc: list[str]) -> list[str]:
    """The valid keys of the model at ``loc`` (for did-you-mean on unknown keys)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or part.isdigit():
            continue
        info = model.model_fields.get(part)
        model = _model_in(info.annotation) if info is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
