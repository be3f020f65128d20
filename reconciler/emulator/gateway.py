"""The API front door: counts, latency, credentials, injected faults, the handler, ``fields``.

A raw ASGI middleware rather than a route, because a dropped connection (a
response that starts and never finishes) cannot be expressed as a Response.
Faults on mutating requests are placed the way real outages hurt clients: a 429
or 503 arrives before the change, a 500 or a dropped connection after it (the
model exists but the answer is lost), which is what idempotent retries must survive.
Every successful JSON answer but a stream is cut down to the request's
partial-response selector here, so no handler can forget it (``partial_response``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.emulator import partial_response
from reconciler.emulator.call import Call
from reconciler.emulator.routes import match
from reconciler.emulator.state import Emulator
from reconciler.emulator.wire import ApiError, camelize
from reconciler.emulator.wire import camel as camelize_key

RETRY_DELAY = "0.05s"  # short, so client retry tests stay fast
# Retry-After carries whole seconds; the precise hint is RetryInfo.retryDelay.
RETRY_AFTER = "0"
BEFORE_FAULTS = ("429", "503")
AFTER_FAULTS = ("500", "drop")

INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."
NO_CREDENTIALS_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_TOKEN_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class ConnectionDropped(Exception):
    """Raised after a partial response so the server closes the connection (a fault)."""


def fault_error(kind: str) -> ApiError:
    if kind == "429":
        return ApiError(
            429,
            "Resource has been exhausted (e.g. check quota).",
            details=[
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": RETRY_DELAY}
            ],
            headers={"Retry-After": RETRY_AFTER},
        )
    if kind == "503":
        return ApiError(503, "The service is currently unavailable.")
    return ApiError(
        500,
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    )


def check_credentials(request: Request, expected: str | None) -> None:
    """Without --api-key anything goes; with it, the real service's answers for each case.

    No credentials at all gets 403 PERMISSION_DENIED, as Google's front end answers
    a call without a key; a Bearer token is accepted only if it equals the key.
    """
    if expected is None:
        return
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if key is not None:
        if not hmac.compare_digest(key.encode(), expected.encode()):
            raise ApiError(
                400,
                INVALID_KEY_MESSAGE,
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": INVALID_KEY_MESSAGE,
                    },
                ],
            )
        return
    authorization = request.headers.get("authorization", "")
    if authorization:
        token = authorization.removeprefix("Bearer ").strip()
        if not authorization.startswith("Bearer ") or not hmac.compare_digest(
            token.encode(), expected.encode()
        ):
            raise ApiError(401, BAD_TOKEN_MESSAGE)
        return
    raise ApiError(403, NO_CREDENTIALS_MESSAGE)


class ApiGateway:
    """Serves every path outside /emulator/; hands /emulator/* to the wrapped app."""

    def __init__(self, app: ASGIApp, *, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/emulator" or path.startswith("/emulator/"):
            await self.app(scope, receive, send)
            return
        em = self.emulator
        request = Request(scope, receive)
        route, params = match(request.method, path)
        em.stats.requests[route.template if route else f"{request.method} (unmatched)"] += 1
        if em.config.latency_ms > 0:
            await asyncio.sleep(em.config.latency_ms / 1000.0)
        fault = self._draw_fault()
        if fault in BEFORE_FAULTS:
            await fault_error(fault).response()(scope, receive, send)
            return
        try:
            check_credentials(request, em.config.api_key)
            if route is None:
                raise ApiError(404, f"The requested URL {path} was not found on this server.")
            query = _query(request)
            # Checked before the handler: a malformed selector changes nothing.
            fields = partial_response.from_request(query, request.headers)
            call = Call(
                emulator=em,
                params=params,
                query=query,
                body={} if route.raw else await _json_body(request),
                int_enums=_int_enums(query),
                now=em.now(),
                path=path,
                fields=fields,
                raw_body=await request.body() if route.raw else b"",
                content_type=request.headers.get("content-type", ""),
                base_url=str(request.base_url),
            )
            response: Response = route.handler(call)
            if not route.stream:
                response = partial_response.filtered(response, fields)
        except ApiError as error:
            response = error.response()
        if fault == "500":
            response = fault_error("500").response()
        elif fault == "drop":
            await _drop(send)
        await response(scope, receive, send)

    def _draw_fault(self) -> str | None:
        em = self.emulator
        if em.config.fault_rate <= 0 or em.fault_rng.random() >= em.config.fault_rate:
            return None
        # For reads, before or after makes no difference; for writes the kind decides.
        return em.fault_rng.choice(BEFORE_FAULTS + AFTER_FAULTS)


def _query(request: Request) -> dict[str, str]:
    """Query parameters by their camelCase names: Google accepts ``page_size`` as ``pageSize``.

    The values are already percent-decoded, so ``%24alt=json%3Benum-encoding%3Dint``
    reads as ``$alt`` = ``json;enum-encoding=int`` (the query is split on ``&`` only).
    """
    return {camelize_key(key): value for key, value in request.query_params.multi_items()}


def _int_enums(query: dict[str, str]) -> bool:
    """``$alt=json;enum-encoding=int`` (or its ``alt=`` spelling) asks for enum numbers."""
    return any(
        "enum-encoding=int" in query.get(name, "").replace(" ", "") for name in ("$alt", "alt")
    )


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid JSON payload received. Expected an object.")
    result: dict[str, Any] = camelize(body)
    return result


async def _drop(send: Send) -> None:
    """Promise a body, send part of it, then fail: the client sees a broken connection."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"name": "', "more_body": True})
    raise ConnectionDropped("connection dropped by fault injection")
