"""Read a request body as Google's front end reads proto JSON, against the API's own schemas.

The message definitions are the request side of the v1beta discovery document
(``request_schemas.json``), so every field of GenerateContentRequest and
CountTokensRequest is known, and nothing else is. The reading is as lenient as
the real one, which Google's published samples rely on:

* a field may be spelled in lowerCamelCase (``systemInstruction``) or as the
  proto field (``system_instruction``); the result is always camelCase;
* enum values are matched in any case (``"mode": "auto"``, ``"type": "object"``)
  or by number, and come out as their upper-case names;
* a single value where the schema has a list (``"contents": {...}``,
  ``"parts": {"text": ...}``) is read as a list of one;
* ``null`` is the same as an absent field; int64 fields accept strings.

What it refuses, it refuses with the front end's messages: ``Invalid JSON payload
received. Unknown name "x" at 'generation_config': Cannot find field.`` for
every unknown name (with a google.rpc.BadRequest detail listing them), and
``Invalid value at 'generation_config.temperature' (TYPE_FLOAT), "hot"`` for a
value of the wrong type. Free-form values (function ``args``, JSON Schemas,
``Schema.properties`` names) are kept exactly as sent. Pure.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from functools import cache
from importlib import resources
from typing import Any

from reconciler.emulator.wire import ApiError

TYPE_PACKAGE = "type.googleapis.com/google.ai.generativelanguage.v1beta"
# The proto enum type behind a field, for the "Invalid value" message; others
# are named <Message>.<Field>, as nested proto enums are.
ENUM_TYPES = {
    ("SafetySetting", "category"): "HarmCategory",
    ("SafetySetting", "threshold"): "SafetySetting.HarmBlockThreshold",
    ("Schema", "type"): "Type",
    ("GenerationConfig", "responseModalities"): "GenerationConfig.Modality",
}
INT32 = (-(2**31), 2**31 - 1)
FLOAT32_MAX = 3.4028234663852886e38


@cache
def schemas() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("request_schemas.json").read_text()
    found: dict[str, Any] = json.loads(text)["schemas"]
    return found


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


@cache
def _names(message: str) -> dict[str, str]:
    """Every accepted spelling of a field of ``message`` -> its camelCase name."""
    names: dict[str, str] = {}
    for name in schemas()[message].get("properties", {}):
        names[name] = name
        names[snake(name)] = name
    return names


class Reader:
    """One request's reading: collects every unknown field before refusing."""

    def __init__(self) -> None:
        self.unknown: list[tuple[str, str]] = []  # (where, name)

    def read(self, value: Any, message: str) -> dict[str, Any]:
        result = self.message(value, message, "")
        if self.unknown:
            raise unknown_fields(self.unknown)
        return result

    def message(self, value: Any, message: str, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _invalid(path, f"{TYPE_PACKAGE}.{message}", value)
        spec = schemas()[message].get("properties", {})
        names = _names(message)
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = names.get(key)
            if name is None:
                self.unknown.append((path, key))
                continue
            if item is None:
                continue
            where = f"{path}.{snake(name)}" if path else snake(name)
            out[name] = self.value(item, spec[name], where, (message, name))
        return out

    def value(self, value: Any, spec: dict[str, Any], path: str, field: tuple[str, str]) -> Any:
        if "$ref" in spec:
            ref = spec["$ref"]
            if "properties" not in schemas()[ref]:
                return value  # free-form (a message the document leaves open)
            return self.message(value, ref, path)
        kind = spec.get("type")
        if kind == "array":
            items = value if isinstance(value, list) else [value]
            return [
                self.value(item, spec["items"], f"{path}[{i}]", field)
                for i, item in enumerate(items)
                if item is not None
            ]
        if kind == "object" and "additionalProperties" in spec:
            if not isinstance(value, dict):
                raise _invalid(path, "TYPE_MESSAGE", value)
            inner = spec["additionalProperties"]
            if "$ref" in inner or "type" in inner:
                return {k: self.value(v, inner, f"{path}[{k!r}]", field) for k, v in value.items()}
            return value
        if kind is None or kind == "object":
            return value  # google.protobuf.Value / Struct: any JSON
        if "enum" in spec:
            return _enum(value, spec["enum"], path, field)
        return _scalar(value, kind, spec.get("format", ""), path)


def _enum(value: Any, names: list[str], path: str, field: tuple[str, str]) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, str):
        for name in names:
            if name.lower() == value.lower():
                return name
    message, name = field
    enum_type = ENUM_TYPES.get(field, f"{message}.{name[0].upper()}{name[1:]}")
    raise _invalid(path, f"{TYPE_PACKAGE}.{enum_type}", value)


def _scalar(value: Any, kind: str, fmt: str, path: str) -> Any:
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _invalid(path, "TYPE_BOOL", value)
        return value
    if kind == "integer" or fmt in ("int64", "uint64"):
        label = "TYPE_INT64" if fmt in ("int64", "uint64") else "TYPE_INT32"
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError
            number = int(value)
            if isinstance(value, float) and number != value:
                raise ValueError
            if label == "TYPE_INT32" and not INT32[0] <= number <= INT32[1]:
                raise ValueError
        except (ValueError, OverflowError):
            raise _invalid(path, label, value) from None
        return number
    if kind == "number":
        label = "TYPE_DOUBLE" if fmt == "double" else "TYPE_FLOAT"
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError
            real = float(value)
            if not math.isfinite(real) or (label == "TYPE_FLOAT" and abs(real) > FLOAT32_MAX):
                raise ValueError
        except (ValueError, OverflowError):
            raise _invalid(path, label, value) from None
        return real
    if not isinstance(value, str):
        raise _invalid(path, "TYPE_STRING", value)
    if fmt == "byte":
        try:
            padded = value + "=" * (-len(value) % 4)
            base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise ApiError(
                400,
                f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for {json.dumps(shown)}",
            ) from None
    return value


def _invalid(path: str, label: str, value: Any) -> ApiError:
    shown = json.dumps(value, ensure_ascii=False)
    if len(shown) > 60:
        shown = shown[:60] + "..."
    where = f" at '{path}'" if path else ""
    return bad_request(f"Invalid value{where} ({label}), {shown}", path)


def unknown_fields(found: list[tuple[str, str]]) -> ApiError:
    messages = [
        f'Invalid JSON payload received. Unknown name "{name}"'
        + (f" at '{where}'" if where else "")
        + ": Cannot find field."
        for where, name in found
    ]
    return ApiError(
        400,
        "\n".join(messages),
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {"field": where, "description": text}
                    for (where, _), text in zip(found, messages, strict=True)
                ],
            }
        ],
    )


def bad_request(message: str, field: str) -> ApiError:
    """An INVALID_ARGUMENT naming the field, with the google.rpc.BadRequest detail clients read."""
    return ApiError(
        400,
        message,
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": message}],
            }
        ],
    )
