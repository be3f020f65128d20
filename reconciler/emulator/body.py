"""Request bodies: JSON read as leniently as Google's front end, and bounded.

Google's own published samples send trailing commas (``"epoch_count":5,}``) and
raw newlines inside strings, and the real service accepts them; the strict
``json`` module refuses both, so a body that fails strict parsing gets a second,
lenient reading. Whatever is read is bounded before a handler sees it: at most
``MAX_BODY_BYTES`` (the service's documented 20 MB request limit), ``MAX_DEPTH``
levels of nesting (a million-deep ``[[[...`` would otherwise end in a
RecursionError, a 500), finite numbers only (a bare ``NaN`` or ``Infinity`` is
not JSON), and no lone UTF-16 surrogate (it would be stored, then make every
later answer that contains it unencodable).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from reconciler.emulator.wire import ApiError, camelize

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 100

PAYLOAD_TOO_LARGE = f"Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes."
# Raw bodies (Cloud Storage uploads) hold whole datasets: Vertex AI reads a
# training file of at most 1 GB, so a larger upload could never be used. The
# emulator holds objects in memory, so this is also its memory bound per request.
MAX_RAW_BODY_BYTES = 1024 * 1024 * 1024

# A JSON string (kept as it is), or a comma followed only by space and a closing bracket.
_TRAILING_COMMA = re.compile(r'("(?:[^"\\]|\\.)*")|,(\s*[\]}])', re.DOTALL)
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _bad(reason: str) -> ApiError:
    return ApiError(400, f"Invalid JSON payload received. {reason}")


def _refuse_constant(name: str) -> Any:
    raise _bad(f"Unexpected token: {name} is not a JSON value.")


def parse(raw: bytes) -> Any:
    """The JSON value of ``raw``; 400 INVALID_ARGUMENT (never a 500) for anything unreadable."""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(400, PAYLOAD_TOO_LARGE)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("The body is not valid UTF-8.") from None
    try:
        value = _loads(text, strict=True)
    except ValueError:
        lenient = _TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(2), text)
        try:
            value = _loads(lenient, strict=False)
        except ValueError as error:
            raise _bad(f"Unexpected token at position {getattr(error, 'pos', 0)}.") from None
    check(value, surrogates=bool(_ESCAPED_SURROGATE.search(raw)))
    return value


def _loads(text: str, *, strict: bool) -> Any:
    try:
        return json.loads(text, strict=strict, parse_constant=_refuse_constant)
    except RecursionError:
        raise _bad(f"The JSON nesting is deeper than {MAX_DEPTH} levels.") from None


def check(value: Any, *, surrogates: bool = True) -> None:
    """Refuse nesting deeper than MAX_DEPTH, non-finite numbers and (if asked) lone surrogates.

    Iterative, so the check itself cannot run out of stack.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _bad(f"The JSON nesting is deeper than {MAX_DEPTH} levels.")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if surrogates and isinstance(key, str):
                    _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, float) and not math.isfinite(item):
            raise _bad("A number is too large to be represented.")
        elif surrogates and isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad("A string holds a lone UTF-16 surrogate (invalid Unicode).") from None


def object_body(raw: bytes, *, camel_case: bool = True) -> dict[str, Any]:
    """A request body as an object: ``{}`` when empty, 400 when not an object.

    ``camel_case`` renames every key to camelCase, which suits bodies with no
    free-form parts; a handler that reads the body against a schema (function
    arguments and JSON Schemas keep their own names) asks for it as sent.
    """
    if not raw.strip():
        return {}
    body = parse(raw)
    if not isinstance(body, dict):
        raise _bad("Expected a JSON object.")
    result: dict[str, Any] = camelize(body) if camel_case else body
    return result
