"""The ``/emulator/`` control surface: stats, reset, run-time config, the clock.

Never counted or faulted. Reads (``GET``) need no credentials, so a readiness
probe works as it is; with ``--api-key``, every request that changes something
(reset, a config change, moving the clock) needs the key, exactly as an API
request does: otherwise anyone who can reach the port could wipe or stall the
emulator a test suite relies on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconciler.emulator import body
from reconciler.emulator.config import check_runtime_values
from reconciler.emulator.credentials import check_credentials
from reconciler.emulator.state import Emulator
from reconciler.emulator.wire import ApiError, json_response, rfc3339

_CONFIG_FIELDS = {
    "latencyMs": "latency_ms",
    "faultRate": "fault_rate",
    "stepSeconds": "step_seconds",
    "tuningFailRate": "tuning_fail_rate",
    "operationSeconds": "operation_seconds",
    "tuningExpireRate": "tuning_expire_rate",
}

ControlHandler = Callable[[Request], Awaitable[Response]]


def control_routes(emulator: Emulator) -> list[Route]:
    def guarded(handler: ControlHandler) -> ControlHandler:
        """Answers a google.rpc.Status for a bad request; changes need the API key."""

        async def endpoint(request: Request) -> Response:
            try:
                if request.method != "GET":
                    check_credentials(request, emulator.config.api_key)
                return await handler(request)
            except ApiError as error:
                return error.response()

        return endpoint

    async def stats(request: Request) -> Response:
        return json_response(emulator.stats.as_json())

    async def reset(request: Request) -> Response:
        emulator.reset()
        return json_response({})

    async def config(request: Request) -> Response:
        if request.method == "GET":
            return json_response(emulator.config_json())
        values = _config_changes(emulator, await _object(request))
        for attribute, value in values.items():
            setattr(emulator.config, attribute, value)
        return json_response(emulator.config_json())

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            changes = await _object(request)
            unknown = sorted(set(changes) - {"advanceSeconds"})
            if unknown:
                raise ApiError(
                    400, f"unknown field(s): {', '.join(unknown)}; known: advanceSeconds"
                )
            try:
                emulator.advance_clock(_number(changes.get("advanceSeconds", 0), "advanceSeconds"))
            except ValueError as error:
                raise ApiError(400, str(error)) from None
        now = emulator.now()
        return json_response(
            {"now": rfc3339(now), "epochSeconds": now, "advancedSeconds": emulator.clock_offset}
        )

    return [
        Route("/emulator/stats", guarded(stats), methods=["GET"]),
        Route("/emulator/reset", guarded(reset), methods=["POST"]),
        Route("/emulator/config", guarded(config), methods=["GET", "PUT"]),
        Route("/emulator/clock", guarded(clock), methods=["GET", "POST"]),
    ]


async def _object(request: Request) -> dict[str, Any]:
    """The JSON object in the body, read with the API's limits (depth, size, finite numbers)."""
    raw = await request.body()
    value = body.parse(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise ApiError(400, "expected a JSON object")
    return value


def _number(value: Any, name: str) -> float:
    try:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError
        return float(value)
    except (TypeError, OverflowError):
        raise ApiError(400, f"{name} must be a number") from None


def _config_changes(emulator: Emulator, changes: dict[str, Any]) -> dict[str, float]:
    """The whole new configuration, checked before any of it is applied."""
    unknown = sorted(set(changes) - set(_CONFIG_FIELDS))
    if unknown:
        raise ApiError(
            400, f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(_CONFIG_FIELDS)}"
        )
    values = {
        attribute: getattr(emulator.config, attribute) for attribute in _CONFIG_FIELDS.values()
    }
    for key, value in changes.items():
        values[_CONFIG_FIELDS[key]] = _number(value, key)
    try:
        check_runtime_values(**values)
    except ValueError as error:
        raise ApiError(400, str(error)) from None
    return values
