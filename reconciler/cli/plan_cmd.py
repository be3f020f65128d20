"""``reconciler plan``: refresh, diff, print the exact actions."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from reconciler.apply.planning import plan_run, saved_plan_json
from reconciler.cli.common import connected
from reconciler.cli.context import get_globals
from reconciler.cli.options import allow_outside_root_option, lock_timeout_option
from reconciler.plan import PlanOptions
from reconciler.render.plan import render_plan_json, render_plan_markdown, render_plan_text

DEFAULT_PATHS = ("manifests",)


def warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while planning; what it built is then frozen.

    A plan builds the manifests, the state records and the listed models:
    several hundred thousand small objects that live until the command ends
    and form no garbage cycles. With the collector on, the allocations
    trigger a full collection of them after the manifests load that frees
    nothing (about 0.08 s at 10,000 models); frozen, later collections skip them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def write_private_file(path: str, text: str) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a plan."""
    import tempfile  # only for --out: keeps every other plan's start-up short

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--out", "out", type=click.Path(dir_okay=False), help="Save the plan for `apply FILE`."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there is nothing to do, 2 when there are changes (1 is an error).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Plan only NAME and what it is tuned from.",
)
@click.option(
    "--replace", "replace", multiple=True, metavar="NAME", help="Force replacement of NAME."
)
@click.option(
    "--refresh-only", is_flag=True, help="Report drift between state and live models only."
)
@allow_outside_root_option
@click.option(
    "--show-unchanged",
    is_flag=True,
    help="List unchanged models too (the text format only counts them).",
)
@click.option(
    "--lock",
    type=click.BOOL,
    default=True,
    show_default=True,
    metavar="BOOLEAN",
    help="--lock=false reads the state without its lock (e.g. while an apply waits at "
    "its prompt); the plan may then miss a write in progress.",
)
@lock_timeout_option
def plan(
    paths: tuple[str, ...],
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    refresh_only: bool,
    show_unchanged: bool,
    allow_outside_root: bool,
    lock: bool,
    lock_timeout: float,
) -> int:
    """Show what apply would do to make the live tuned models match the manifests."""
    g = get_globals()
    options = PlanOptions(
        targets=frozenset(targets), replace=frozenset(replace), refresh_only=refresh_only
    )
    with (
        connected(g, manifests=paths or DEFAULT_PATHS, allow_outside_root=allow_outside_root) as (
            client,
            backend,
        ),
        _collector_paused(),
    ):
        planned = plan_run(
            client=client,
            backend=backend,
            paths=paths or DEFAULT_PATHS,
            allow_outside_root=allow_outside_root,
            options=options,
            lock_timeout=lock_timeout,
            warn=warn,
            lock=lock,
        )
    if fmt == "json":
        click.echo(render_plan_json(planned.plan), nl=False)
    elif fmt == "markdown":
        click.echo(render_plan_markdown(planned.plan), nl=False)
    else:
        click.echo(
            render_plan_text(planned.plan, color=g.color, show_unchanged=show_unchanged), nl=False
        )
    if out:
        write_private_file(out, saved_plan_json(planned))
        click.echo(f"Saved the plan to {out}; apply it with: reconciler apply {out}", err=True)
    return 2 if detailed_exitcode and planned.plan.has_changes else 0
