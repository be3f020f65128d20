"""Wire-format helpers: google.rpc.Status errors, proto3 JSON values, field-name spelling.

Kept apart from the handlers so that every response the emulator writes goes
through the same spelling rules (camelCase, RFC 3339 UTC, omitted defaults).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

# HTTP code -> canonical google.rpc.Code name, as the Google front end pairs them.
STATUS_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

JSON_MEDIA_TYPE = "application/json; charset=UTF-8"


class ApiError(Exception):
    """An error answer: becomes ``{"error": {code, message, status, details?}}``."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_BY_HTTP.get(code, "UNKNOWN")
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> Response:
        return json_response(self.body(), status=self.code, headers=self.headers)


def invalid(message: str) -> ApiError:
    return ApiError(400, message)


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def json_response(
    payload: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return raw_json_response(dumps(payload), status=status, headers=headers)


def raw_json_response(
    text: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(text.encode(), status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


def rfc3339(epoch_seconds: float) -> str:
    """RFC 3339 UTC with microseconds, the form the real service writes for createTime."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_SNAKE = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


# Proto map fields: their keys are data (label names), not field names to respell.
MAP_FIELDS = frozenset({"labels"})


def camelize(value: Any) -> Any:
    """Request bodies arrive in camelCase (client libraries) or snake_case (curl samples)."""
    if isinstance(value, dict):
        return {
            camel(str(k)): v if camel(str(k)) in MAP_FIELDS else camelize(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [camelize(v) for v in value]
    return value


# Enum values the emulator writes; ``$alt=json;enum-encoding=int`` asks for the numbers.
ENUM_NUMBERS = {
    "CREATING": 1,
    "ACTIVE": 2,
    "FAILED": 3,
    "STOP": 1,
    "MAX_TOKENS": 2,
    # generateContent answers: HarmCategory, HarmProbability, Modality,
    # ExecutableCode.Language, CodeExecutionResult.Outcome
    "HARM_CATEGORY_HARASSMENT": 7,
    "HARM_CATEGORY_HATE_SPEECH": 8,
    "HARM_CATEGORY_SEXUALLY_EXPLICIT": 9,
    "HARM_CATEGORY_DANGEROUS_CONTENT": 10,
    "NEGLIGIBLE": 1,
    "TEXT": 1,
    "PYTHON": 1,
    "OUTCOME_OK": 1,
    # Permission.GranteeType and Permission.Role
    "USER": 1,
    "GROUP": 2,
    "EVERYONE": 3,
    "OWNER": 1,
    "WRITER": 2,
    "READER": 3,
}


def enum(name: str, *, int_enums: bool) -> str | int:
    return ENUM_NUMBERS[name] if int_enums else name
