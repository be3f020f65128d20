"""Global options shared by every command (``ctx.obj``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class Globals:
    endpoint: str
    api_key: str | None
    access_token: str | None
    user_project: str | None
    state_location: str
    no_color: bool
    verbose: int
    request_timeout: float = 180.0  # seconds; --request-timeout
    endpoint_moved: bool = False  # the state's recorded API may differ: adopt this one

    @property
    def color(self) -> bool:
        """Colour and animation only on a terminal, and never with --no-color/NO_COLOR."""
        return not self.no_color and sys.stdout.isatty()


def get_globals() -> Globals:
    """The Globals of the running command (for use inside a click command)."""
    obj = click.get_current_context().find_root().obj
    assert isinstance(obj, Globals)
    return obj


pass_globals = click.make_pass_decorator(Globals)
