"""Global options shared by every command (``ctx.obj``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import click

from reconciler.target import TargetSettings


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
    # --backend, --project, --location, --dataset-bucket as given on the command
    # line, and as the environment gives them (RECONCILER_BACKEND, ...): kept
    # apart, because a Backend document in the manifests comes between the two
    # (see reconciler.target.resolve_target and cli.common.target_for).
    target_flags: TargetSettings = field(default_factory=TargetSettings)
    target_env: TargetSettings = field(default_factory=TargetSettings)

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
