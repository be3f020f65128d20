"""Deterministic values that validate against a schema: JSON-mode answers and function args.

Two schema dialects arrive: the API's own ``Schema`` (an OpenAPI 3.0 subset with
upper-case types, ``nullable``, ``propertyOrdering``, int64 bounds) in
``responseSchema`` and ``parameters``, and JSON Schema in ``responseJsonSchema``
and ``parametersJsonSchema`` (what pydantic writes: ``$defs``/``$ref``,
``anyOf`` with ``null``, ``const``, ``prefixItems``). ``to_json_schema``
turns the first into the second, so one generator serves both and a test can
check the result with any JSON Schema validator.

Values depend only on the schema and a seed string (the prompt), so the same
request gets the same answer. Regular-expression ``pattern``s are not
followed (see the README's known differences). Pure.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

MAX_DEPTH = 12  # recursive schemas (a tree of nodes) stop growing here
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The API's ``Schema`` (read by ``proto_json``: upper-case types) as JSON Schema."""
    out: dict[str, Any] = {}
    kind = schema.get("type", "TYPE_UNSPECIFIED")
    if kind not in ("TYPE_UNSPECIFIED", "NULL"):
        out["type"] = kind.lower()
    elif kind == "NULL":
        out["type"] = "null"
    for key in ("enum", "format", "title", "description", "required", "propertyOrdering"):
        if key in schema:
            out[key] = schema[key]
    for key in ("minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength"):
        if key in schema:
            out[key] = schema[key]
    for key in ("minProperties", "maxProperties"):
        if key in schema:
            out[key] = schema[key]
    if "properties" in schema:
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = to_json_schema(schema["items"])
    if "anyOf" in schema:
        out["anyOf"] = [to_json_schema(s) for s in schema["anyOf"]]
    if schema.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


class SchemaError(ValueError):
    """A schema the generator cannot follow (``"minItems": "many"``, ``"anyOf": 3``)."""


def generate(schema: dict[str, Any], *, seed: str) -> Any:
    """A value valid against JSON Schema ``schema``, the same for the same seed.

    Schemas come from requests, so anything malformed in one is a SchemaError,
    never another exception.
    """
    try:
        return _Generator(schema, seed).value(schema, "value", 0)
    except (
        ValueError,
        TypeError,
        AttributeError,
        LookupError,
        OverflowError,
        RecursionError,
    ) as error:
        raise SchemaError(str(error)) from None


class _Generator:
    def __init__(self, root: dict[str, Any], seed: str) -> None:
        self.root = root
        self.seed = seed

    def pick(self, path: str, count: int) -> int:
        return zlib.crc32(f"{self.seed}\0{path}".encode()) % max(count, 1)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            node: Any = self.root
            for part in str(schema["$ref"]).removeprefix("#").strip("/").split("/"):
                if not part:
                    continue
                node = (
                    node.get(part.replace("~1", "/").replace("~0", "~"), {})
                    if isinstance(node, dict)
                    else {}
                )
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        return schema

    def value(self, schema: Any, path: str, depth: int) -> Any:
        if depth > 4 * MAX_DEPTH:
            raise SchemaError("it nests (or refers to itself) too deeply")
        if schema is True or not isinstance(schema, dict):
            return path.rsplit(".", 1)[-1]
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            options = schema["enum"]
            return options[self.pick(path, len(options))]
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            options = (
                [self.resolve(s) for s in options if isinstance(s, dict)]
                if isinstance(options, list)
                else []
            )
            if options:
                usable = [s for s in options if s.get("type") != "null"] or options
                return self.value(usable[0], path, depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part = self.resolve(part) if isinstance(part, dict) else {}
                merged.update(
                    {k: v for k, v in part.items() if k not in ("properties", "required")}
                )
                merged.setdefault("properties", {}).update(part.get("properties", {}))
                merged["required"] = merged.get("required", []) + part.get("required", [])
            return self.value(
                {**merged, **{k: v for k, v in schema.items() if k != "allOf"}}, path, depth + 1
            )
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = (
                "object" if "properties" in schema else "array" if "items" in schema else "string"
            )
        maker = getattr(self, f"make_{kind}", None)
        return maker(schema, path, depth) if maker else None

    def make_null(self, schema: dict[str, Any], path: str, depth: int) -> None:
        return None

    def make_boolean(self, schema: dict[str, Any], path: str, depth: int) -> bool:
        return self.pick(path, 2) == 0

    def make_integer(self, schema: dict[str, Any], path: str, depth: int) -> int:
        low, high = _bounds(schema, integer=True)
        value = 1 + self.pick(path, 10)
        return int(min(max(value, low), high))

    def make_number(self, schema: dict[str, Any], path: str, depth: int) -> float:
        low, high = _bounds(schema, integer=False)
        value = 1.5 + self.pick(path, 10)
        return float(min(max(value, low), high))

    def make_string(self, schema: dict[str, Any], path: str, depth: int) -> str:
        text = _FORMATS.get(str(schema.get("format", "")), "")
        if not text:
            name = path.rsplit(".", 1)[-1].rstrip("]").split("[")[0] or "value"
            text = f"{name} {1 + self.pick(path, 9)}"
        low = int(schema.get("minLength", 0))
        high = int(schema.get("maxLength", max(low, len(text))))
        if len(text) < low:
            text += "x" * (low - len(text))
        return text[:high]

    def make_array(self, schema: dict[str, Any], path: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems", [])
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 2)))
        count = min(max(low, len(prefix), 0 if depth >= MAX_DEPTH else 2), high)
        items = schema.get("items", {})
        return [
            self.value(prefix[i] if i < len(prefix) else items, f"{path}[{i}]", depth + 1)
            for i in range(count)
        ]

    def make_object(self, schema: dict[str, Any], path: str, depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        required = [name for name in schema.get("required", []) if name in properties]
        order = [n for n in schema.get("propertyOrdering", []) if n in properties]
        names = order + [n for n in properties if n not in order]
        if depth >= MAX_DEPTH:
            names = [n for n in names if n in required]
        limit = int(schema.get("maxProperties", len(names)))
        chosen = [n for n in names if n in required]
        chosen += [n for n in names if n not in required][: max(0, limit - len(chosen))]
        return {
            name: self.value(properties[name], f"{path}.{name}", depth + 1)
            for name in names
            if name in chosen
        }


def _bounds(schema: dict[str, Any], *, integer: bool) -> tuple[float, float]:
    low = float(schema.get("minimum", -math.inf))
    high = float(schema.get("maximum", math.inf))
    step = 1.0 if integer else 0.5
    if "exclusiveMinimum" in schema:
        low = max(low, float(schema["exclusiveMinimum"]) + step)
    if "exclusiveMaximum" in schema:
        high = min(high, float(schema["exclusiveMaximum"]) - step)
    if integer:
        low = math.ceil(low) if math.isfinite(low) else low
        high = math.floor(high) if math.isfinite(high) else high
    return low, high
