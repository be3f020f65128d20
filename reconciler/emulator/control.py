"""The ``/emulator/`` control surface: stats, reset, run-time config (never counted or faulted)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator.config import check_runtime_values
from reconciler.emulator.state import Emulator

_CONFIG_FIELDS = {
    "latencyMs": "latency_ms",
    "faultRate": "fault_rate",
    "stepSeconds": "step_seconds",
    "tuningFailRate": "tuning_fail_rate",
}


def control_routes(emulator: Emulator) -> list[Route]:
    async def stats(request: Request) -> Response:
        return JSONResponse(emulator.stats.as_json())

    async def reset(request: Request) -> Response:
        emulator.reset()
        return JSONResponse({})

    async def config(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(emulator.config_json())
        try:
            changes = json.loads(await request.body() or b"{}")
            values = _validated(emulator, changes)
        except (ValueError, TypeError) as error:
            return JSONResponse(
                {"error": {"code": 400, "message": str(error), "status": "INVALID_ARGUMENT"}},
                status_code=400,
            )
        for attribute, value in values.items():
            setattr(emulator.config, attribute, value)
        return JSONResponse(emulator.config_json())

    return [
        Route("/emulator/stats", stats, methods=["GET"]),
        Route("/emulator/reset", reset, methods=["POST"]),
        Route("/emulator/config", config, methods=["GET", "PUT"]),
    ]


def _validated(emulator: Emulator, changes: Any) -> dict[str, float]:
    if not isinstance(changes, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(changes) - set(_CONFIG_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(_CONFIG_FIELDS)}"
        )
    values = {
        attribute: getattr(emulator.config, attribute) for attribute in _CONFIG_FIELDS.values()
    }
    for key, value in changes.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{key} must be a number")
        values[_CONFIG_FIELDS[key]] = float(value)
    check_runtime_values(**values)
    return values
