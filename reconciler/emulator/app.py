"""Assemble the ASGI app: the API gateway (a route table) in front of the control routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.control import control_routes
from reconciler.emulator.gateway import ApiGateway
from reconciler.emulator.routes import ROUTES, Route
from reconciler.emulator.state import Clock, Emulator


def create_app(
    config: EmulatorConfig | None = None,
    *,
    clock: Clock | None = None,
    routes: Sequence[Route] = ROUTES,
) -> Starlette:
    """A fresh emulator as a Starlette app (serve it with uvicorn or use httpx.ASGITransport).

    ``clock`` returns epoch seconds; tests pass a fake one so tuning progress
    moves when they say, with no sleeps. ``routes`` is the API it serves (the
    Gemini API by default; another surface is another table, or this one
    extended). ``app.state.emulator`` is the instance.
    """
    emulator = Emulator(config or EmulatorConfig(), clock=clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        emulator.store.close()

    app = Starlette(
        routes=control_routes(emulator),
        middleware=[Middleware(ApiGateway, emulator=emulator, routes=routes)],
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    return app
