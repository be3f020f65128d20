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
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.emulator import body, partial_response
from reconciler.emulator.call import Call
from reconciler.emulator.credentials import check_credentials
from reconciler.emulator.routes import ROUTES, Route, match
from reconciler.emulator.state import Emulator
from reconciler.emulator.wire import ApiError
from reconciler.emulator.wire import camel as camelize_key

RETRY_DELAY = "0.05s"  # short, so client retry tests stay fast
# Retry-After carries whole seconds; the precise hint is RetryInfo.retryDelay.
RETRY_AFTER = "0"
BEFORE_FAULTS = ("429", "503")
AFTER_FAULTS = ("500", "drop")


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


class ApiGateway:
    """Serves every path outside /emulator/; hands /emulator/* to the wrapped app."""

    def __init__(
        self, app: ASGIApp, *, emulator: Emulator, routes: Sequence[Route] = ROUTES
    ) -> None:
        self.app = app
        self.emulator = emulator
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/emulator" or path.startswith("/emulator/"):
            await self.app(scope, receive, send)
            return
        em = self.emulator
        request = Request(scope, receive)
        route, params = match(request.method, path, self.routes)
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
                body={}
                if route.raw
                else await _json_body(request, camel_case=not route.body_as_sent),
                int_enums=_int_enums(query),
                now=em.now(),
                path=path,
                fields=fields,
                raw_body=await _bounded(request, body.MAX_RAW_BODY_BYTES) if route.raw else b"",
                content_type=request.headers.get("content-type", ""),
                base_url=str(request.base_url),
                headers=dict(request.headers) if route.raw else {},
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
        fault = em.fault_rng.choice(BEFORE_FAULTS + AFTER_FAULTS)
        em.stats.faults[fault] += 1
        return fault


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


async def _json_body(request: Request, *, camel_case: bool) -> dict[str, Any]:
    """The body as an object, read no further than the size limit (a 400 beyond it)."""
    raw = await _bounded(request, body.MAX_BODY_BYTES)
    return body.object_body(raw, camel_case=camel_case)


async def _bounded(request: Request, limit: int) -> bytes:
    """The request body, read no further than ``limit`` bytes (a 400 beyond it)."""
    too_large = ApiError(400, f"Request payload size exceeds the limit: {limit} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


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
