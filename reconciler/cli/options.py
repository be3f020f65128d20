"""Command-line helpers shared by several commands: durations, --lock-timeout, the state backend."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler.cli.context import Globals
from reconciler.state import StateBackend, StateLock, open_backend

F = TypeVar("F", bound=Callable[..., Any])

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``5m``, ``1h30m``, ``250ms`` or plain ``12.5``; ValueError otherwise. Pure."""
    value = text.strip().lower()
    if not value:
        raise ValueError("empty duration")
    try:
        seconds = float(value)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _PART.finditer(value):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(value) or pos == 0:
            raise ValueError(f"invalid duration {text!r}") from None
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"invalid duration {text!r}")
    return seconds


class Duration(click.ParamType[float]):
    """A click type for durations (see ``parse_duration``); the value is float seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError:
            self.fail(
                f"{value!r} is not a duration (use e.g. 30s, 5m, 1h30m, 250ms or seconds)",
                param,
                ctx,
            )


DURATION = Duration()


def lock_timeout_option(func: F) -> F:
    """``--lock-timeout DURATION``: how long to wait for the state lock (default 0: fail at once)."""
    return click.option(
        "--lock-timeout",
        "lock_timeout",
        type=DURATION,
        default="0",
        show_default=True,
        help="Wait this long for another writer's state lock (e.g. 30s, 5m) instead of failing at once.",
    )(func)


def allow_outside_root_option(func: F) -> F:
    """``--allow-outside-root`` on the commands that load manifests, as ``validate`` has it."""
    return click.option(
        "--allow-outside-root",
        is_flag=True,
        help="Let manifests and dataset files be read through symlinks (or paths) leading "
        "outside the current directory (the repository root).",
    )(func)


def open_state(globals_: Globals) -> StateBackend:
    """The state backend named by ``--state`` / RECONCILER_STATE."""
    return open_backend(globals_.state_location)


def echo_lock_warning(lock: StateLock) -> None:
    """Print ``Warning: ...`` on stderr when taking the lock meant taking over a stale one."""
    if lock.warning:
        click.echo(f"Warning: {lock.warning}", err=True)
