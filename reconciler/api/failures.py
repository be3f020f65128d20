"""Turn an error answer (or no answer) into the right ``ApiError`` subclass.

The google.rpc.Status body (``{"error": {"code", "message", "status",
"details"}}``) decides when there is one; a body that is not JSON (an HTML 404
from a frontend, a proxy's 502 page) falls back to the HTTP code. Messages name
the method and the path, never the query string, and every known secret is
scrubbed from text that came from the server.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from reconciler.errors import (
    AlreadyExistsError,
    ApiError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    TransportError,
    UnauthenticatedError,
    UnavailableError,
)

_BY_STATUS: dict[str, type[ApiError]] = {
    "INVALID_ARGUMENT": InvalidArgumentError,
    "OUT_OF_RANGE": InvalidArgumentError,
    "UNAUTHENTICATED": UnauthenticatedError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "ALREADY_EXISTS": AlreadyExistsError,
    "ABORTED": AlreadyExistsError,
    "FAILED_PRECONDITION": FailedPreconditionError,
    "RESOURCE_EXHAUSTED": ResourceExhaustedError,
    "INTERNAL": InternalError,
    "UNKNOWN": InternalError,
    "UNAVAILABLE": UnavailableError,
    "DEADLINE_EXCEEDED": UnavailableError,
}

_BY_CODE: dict[int, type[ApiError]] = {
    400: InvalidArgumentError,
    401: UnauthenticatedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: AlreadyExistsError,
    412: FailedPreconditionError,
    429: ResourceExhaustedError,
    500: InternalError,
    502: UnavailableError,
    503: UnavailableError,
    504: UnavailableError,
}

# A server message longer than this is cut: an HTML error page is not a message.
MESSAGE_MAX_CHARS = 300

_API_KEY_INVALID_HINT = "check the API key (--api-key, GEMINI_API_KEY or GOOGLE_API_KEY)"
_AUTH_HINT = "check the credential: --api-key / GEMINI_API_KEY, or --access-token"


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_MAX_CHARS else text[:MESSAGE_MAX_CHARS]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def parse_status(content: bytes) -> dict[str, Any] | None:
    """The google.rpc.Status inside an error body, or None when the body is not one."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # some frontends wrap the envelope in a list
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return None
    error: dict[str, Any] = data["error"]
    return error


def error_for_response(
    response: httpx.Response,
    *,
    method: str,
    path: str,
    retry_after: float | None,
    secrets: Iterable[str],
) -> ApiError:
    """The ApiError for an HTTP error answer (status >= 400)."""
    secrets = tuple(secrets)
    code = response.status_code
    status = parse_status(response.content)
    # Scrubbed before cut: a cut through a secret would leave most of it unmatched.
    if status is None:
        text = _cut(scrub(" ".join(response.text.split()), secrets)) if response.content else ""
        label = scrub(response.reason_phrase or "HTTP error", secrets)
        message = f"{label} (response was not JSON{': ' + text if text else ''})"
        cls = _BY_CODE.get(code, InternalError if code >= 500 else ApiError)
        return cls(message, code=code, method=method, path=path, retry_after=retry_after)
    status_name = scrub(str(status.get("status") or ""), secrets)
    message = _cut(scrub(str(status.get("message") or response.reason_phrase or ""), secrets))
    raw_details = status.get("details")
    details = (
        [d for d in raw_details if isinstance(d, dict)] if isinstance(raw_details, list) else []
    )
    details = json.loads(scrub(json.dumps(details), secrets)) if secrets else details
    cls = (
        _BY_STATUS.get(status_name)
        or _BY_CODE.get(code)
        or (InternalError if code >= 500 else ApiError)
    )
    if code == 409 and cls is not AlreadyExistsError:
        cls = AlreadyExistsError
    return cls(
        message,
        code=code,
        status=status_name,
        details=details,
        method=method,
        path=path,
        retry_after=retry_after,
        hint=_hint(code=code, details=details),
    )


def _hint(*, code: int, details: list[dict[str, Any]]) -> str | None:
    reasons = {d.get("reason") for d in details}
    if "API_KEY_INVALID" in reasons:
        return _API_KEY_INVALID_HINT
    if code in (401, 403):
        return _AUTH_HINT
    return None


def error_for_exception(
    exc: Exception, *, method: str, path: str, endpoint: str = "", local: bool = False
) -> ApiError:
    """The ApiError for an httpx exception raised while sending (no HTTP answer).

    ``endpoint`` (scheme and host, never a key) is named when nothing answered
    there at all, with what to check: a mistyped ``--endpoint`` or an emulator
    that is not running are the usual causes.
    """
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return TransportError(f"timed out ({kind})", method=method, path=path)
    if isinstance(exc, httpx.ConnectError) and endpoint:
        hint = (
            "is the emulator running? start one with `reconciler emulator serve --port PORT`"
            " and point --endpoint (RECONCILER_ENDPOINT) at it"
            if local
            else "check --endpoint (RECONCILER_ENDPOINT), the network and any proxy settings"
        )
        return TransportError(
            f"cannot connect to {endpoint}: {connection_cause(exc)}",
            method=method,
            path=path,
            hint=hint,
        )
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
        return TransportError(f"connection failed ({kind})", method=method, path=path)
    # Not worth retrying: a bad URL or protocol, a proxy refusing, a body that
    # cannot be decoded. Still an ApiError, never an httpx exception.
    return ApiError(f"request failed ({kind})", method=method, path=path)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _resolution_failure(exc: BaseException) -> socket.gaierror | None:
    return next((e for e in _chain(exc) if isinstance(e, socket.gaierror)), None)


def _certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    return next((e for e in _chain(exc) if isinstance(e, ssl.SSLCertVerificationError)), None)


def connection_cause(exc: BaseException) -> str:
    """Why a connection could not be made, in words (the OS's or the TLS library's)."""
    resolution = _resolution_failure(exc)
    if resolution is not None:
        return f"the host name cannot be resolved ({resolution.strerror or resolution})"
    certificate = _certificate_failure(exc)
    if certificate is not None:
        reason = (
            getattr(certificate, "verify_message", None)
            or getattr(certificate, "reason", None)
            or " ".join(str(certificate).split())
        )
        return f"its TLS certificate is not accepted ({reason})"
    text = " ".join(str(exc).split())
    return f"{text} ({type(exc).__name__})" if text else type(exc).__name__


def is_fixable_by_retrying(exc: BaseException, *, local: bool) -> bool:
    """False for failures that another attempt in a few seconds will meet again.

    A host name that does not resolve (no network, a typo in --endpoint) and a
    certificate that is not trusted (a proxy intercepting TLS) stay that way:
    retrying them only keeps the user waiting for the same error. A loopback
    host is left to the other rules (an emulator may be starting).
    """
    if _certificate_failure(exc) is not None:
        return False
    return local or _resolution_failure(exc) is None


def deadline_error(*, method: str, path: str, endpoint: str, seconds: float) -> TransportError:
    """The error when a call (with its retries) found no complete answer by its deadline."""
    return TransportError(
        f"no complete answer from {endpoint} within {seconds:g} s, the deadline of one request",
        method=method,
        path=path,
        hint="check the endpoint and the network; a slow link may need a longer "
        "--request-timeout (RECONCILER_REQUEST_TIMEOUT)",
    )


def is_retryable_exception(exc: Exception) -> bool:
    """Timeouts and dropped or refused connections: the request may be sent again."""
    return isinstance(exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError))


def may_have_taken_effect(exc: Exception | None, status: int | None) -> bool:
    """Whether a failed attempt might still have changed something on the server.

    A refused connection or a 429 means the request was not processed; a 5xx
    or a connection lost after sending means it may have been.
    """
    if exc is not None:
        return not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    return status is not None and status >= 500
