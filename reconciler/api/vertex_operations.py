"""Waiting for a Vertex AI long-running Operation (undeploy, delete) and reading its outcome.

An Operation answer is ``{"name", "metadata", "done", "error" | "response"}``;
``done`` is left out while it runs (proto JSON omits false). It is polled with
``GET {name}`` under the same backoff as every other wait (``waiting.poll_until``),
on the caller's injected sleep and clock. A failed Operation carries a
google.rpc.Status whose numeric code becomes the same ``ApiError`` subclass an
HTTP error with that status would have been.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.api.vertex_jobs import MAX_TEXT
from reconciler.api.waiting import poll_until
from reconciler.errors import (
    AlreadyExistsError,
    ApiError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)

# google.rpc.Code -> (status name, the HTTP status it maps to, the error class)
_CODES: dict[int, tuple[str, int, type[ApiError]]] = {
    1: ("CANCELLED", 499, ApiError),
    2: ("UNKNOWN", 500, InternalError),
    3: ("INVALID_ARGUMENT", 400, InvalidArgumentError),
    4: ("DEADLINE_EXCEEDED", 504, UnavailableError),
    5: ("NOT_FOUND", 404, NotFoundError),
    6: ("ALREADY_EXISTS", 409, AlreadyExistsError),
    7: ("PERMISSION_DENIED", 403, PermissionDeniedError),
    8: ("RESOURCE_EXHAUSTED", 429, ResourceExhaustedError),
    9: ("FAILED_PRECONDITION", 400, FailedPreconditionError),
    10: ("ABORTED", 409, AlreadyExistsError),
    11: ("OUT_OF_RANGE", 400, InvalidArgumentError),
    12: ("UNIMPLEMENTED", 501, ApiError),
    13: ("INTERNAL", 500, InternalError),
    14: ("UNAVAILABLE", 503, UnavailableError),
    15: ("DATA_LOSS", 500, InternalError),
    16: ("UNAUTHENTICATED", 401, UnauthenticatedError),
}

# Seconds between polls: Model and Endpoint operations take seconds to minutes.
FIRST_POLL = 1.0
MAX_POLL = 15.0
DEFAULT_OPERATION_TIMEOUT = 900.0


def operation_error(operation: dict[str, Any], *, what: str) -> ApiError | None:
    """The error a done Operation ended with, or None if it succeeded."""
    error = operation.get("error")
    if not isinstance(error, dict):
        return None
    raw = error.get("code")
    code = raw if isinstance(raw, int) and not isinstance(raw, bool) else 2
    status, http, cls = _CODES.get(code, ("UNKNOWN", 500, InternalError))
    message = error.get("message")
    text = message[:MAX_TEXT] if isinstance(message, str) and message else status
    return cls(f"{what} failed: {text}", code=http, status=status)


def wait_for_operation(
    operation: dict[str, Any],
    *,
    what: str,
    get: Callable[[str], dict[str, Any]],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    timeout: float = DEFAULT_OPERATION_TIMEOUT,
) -> dict[str, Any]:
    """Poll ``operation`` (as first answered) until done; its ``response``, or its error raised.

    ``what`` names the change in messages ("undeploy of M from E"); ``get`` reads
    an Operation by name. Not done within ``timeout`` is an ``UnavailableError``:
    the change goes on at the server, and a rerun finds it done.
    """
    latest = operation
    first = True

    def done() -> bool:
        nonlocal latest, first
        if first or latest.get("done") is True:
            first = False  # the answer in hand counts as the first poll
            return latest.get("done") is True
        name = latest.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(f"{what}: the service answered an Operation without a name")
        latest = get(name)
        return latest.get("done") is True

    if operation.get("done") is not True:
        poll_until(
            done,
            timeout=timeout,
            poll_interval=FIRST_POLL,
            max_poll_interval=MAX_POLL,
            sleep=sleep,
            clock=clock,
        )
    if latest.get("done") is not True:
        raise UnavailableError(
            f"{what} is still running after {timeout:g} s",
            code=504,
            status="DEADLINE_EXCEEDED",
            hint="the service goes on with it; run the command again to see it finished",
        )
    error = operation_error(latest, what=what)
    if error is not None:
        raise error
    response = latest.get("response")
    return response if isinstance(response, dict) else {}
