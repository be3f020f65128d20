"""``reconciler apply``, ``destroy``, ``import`` and ``wait``: the commands that change things."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler.apply.gating import gate_for_wait
from reconciler.apply.importing import import_run
from reconciler.apply.outcomes import ApplyReport, ExecutionOptions, Outcome
from reconciler.apply.progress import make_reporter
from reconciler.apply.waiting import wait_run
from reconciler.apply.workflows import apply_run, is_saved_plan
from reconciler.cli.common import connected
from reconciler.cli.context import Globals, get_globals
from reconciler.cli.options import DURATION, allow_outside_root_option, lock_timeout_option
from reconciler.cli.plan_cmd import DEFAULT_PATHS, warn
from reconciler.errors import ApplyError, ReconcilerError, UsageError
from reconciler.plan import Plan, PlanOptions
from reconciler.render.plan import render_plan_text

F = TypeVar("F", bound=Callable[..., Any])


def _confirmer(*, auto_approve: bool, verb: str) -> Callable[[Plan], bool]:
    def confirm(plan: Plan) -> bool:
        if auto_approve:
            return True
        if not sys.stdin.isatty():
            raise UsageError(
                f"{verb} needs confirmation, but there is no terminal to ask on",
                hint="pass --auto-approve (as CI jobs do) after reviewing the plan",
            )
        answer = click.prompt(
            f"Do you want to {verb} these actions? Only 'yes' will be accepted",
            default="",
            show_default=False,
        )
        return bool(answer.strip() == "yes")

    return confirm


def _shower(g: Globals) -> Callable[[Plan], None]:
    def show(plan: Plan) -> None:
        click.echo(render_plan_text(plan, color=g.color), nl=False)

    return show


def summarize(report: ApplyReport) -> str:
    done: dict[str, int] = {}
    for result in report.results:
        if result.outcome in (Outcome.SUCCEEDED, Outcome.IN_FLIGHT):
            done[result.action.kind.value] = done.get(result.action.kind.value, 0) + 1
        elif result.deleted_old:  # a replace that got as far as deleting the old model
            done["delete"] = done.get("delete", 0) + 1
    parts = [
        f"{done.get('create', 0) + done.get('recreate', 0)} created",
        f"{done.get('update', 0)} updated",
        f"{done.get('replace', 0)} replaced",
        f"{done.get('delete', 0)} deleted",
    ]
    if done.get("evaluate"):
        parts.append(f"{done['evaluate']} evaluated")
    tail = [
        f"{report.count(Outcome.FAILED)} failed",
        f"{report.count(Outcome.SKIPPED)} skipped",
        f"{report.count(Outcome.IN_FLIGHT)} still tuning",
    ]
    return ", ".join(parts) + "; " + ", ".join(tail) + "."


def _finish(report: ApplyReport | None, *, verb: str) -> int:
    if report is None:
        return 0
    for result in report.results:
        if result.outcome in (Outcome.FAILED, Outcome.SKIPPED):
            click.echo(
                f"{result.action.address}: {result.outcome.value}: {result.detail}", err=True
            )
    if report.ok:
        click.echo(f"{verb} complete: {summarize(report)}")
        return 0
    if report.timed_out and not any(r.outcome is Outcome.FAILED for r in report.results):
        # Not "complete": tuning goes on on the server, and the command exits 1.
        raise ApplyError(
            f"timed out waiting for tuning; the operations are kept in state: {summarize(report)}",
            hint="`reconciler wait` follows them, or a later plan/apply picks them up",
        )
    raise ApplyError(f"{verb} finished with errors: {summarize(report)}")


def _planned_paths(plan_file: str) -> tuple[str, ...] | None:
    """The manifest paths a saved plan was made from (where its Backend document is).

    None when the file cannot be read as a plan: applying it says why.
    """
    import json

    from reconciler.planfile import plan_from_saved

    try:
        with open(plan_file, encoding="utf-8") as handle:
            return plan_from_saved(json.load(handle)).manifest_paths
    except (OSError, ValueError, ReconcilerError):
        return None


def execution_options(func: F) -> F:
    func = click.option("--parallelism", type=click.IntRange(1, 256), default=8, show_default=True)(
        func
    )
    func = click.option(
        "--wait/--no-wait",
        "wait_",
        default=True,
        show_default=True,
        help="Follow tuning until ACTIVE or FAILED.",
    )(func)
    func = click.option(
        "--timeout",
        type=DURATION,
        default=None,
        help=(
            "Stop waiting after this long (e.g. 2h). Tuning still running then goes on "
            "on the server: the command exits 1, its operations stay in state, and "
            "`reconciler wait` or a later apply follows them to ACTIVE (never a second create)."
        ),
    )(func)
    func = click.option("--poll-interval", type=DURATION, default="1s", hidden=True)(func)
    return func


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@execution_options
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Apply only NAME (repeatable) and what it is tuned from.",
)
@click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="NAME",
    help="Replace NAME (repeatable) even if nothing changed: delete it and tune it again.",
)
@allow_outside_root_option
@lock_timeout_option
def apply(
    paths: tuple[str, ...],
    auto_approve: bool,
    parallelism: int,
    wait_: bool,
    timeout: float | None,
    poll_interval: float,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    allow_outside_root: bool,
    lock_timeout: float,
) -> int:
    """Make the live tuned models match the manifests (or carry out a saved plan).

    A saved plan (PATHS is one file from `plan --out`) reads its manifests from the
    paths recorded when it was made, relative to the current directory: run apply
    in the directory where the plan was made (or the same place in another
    checkout). If they are not found there, apply stops with an error and
    changes nothing.
    """
    g = get_globals()
    saved = paths[0] if len(paths) == 1 and is_saved_plan(paths[0]) else None
    if saved and (targets or replace):
        raise UsageError(
            "--target and --replace cannot change a saved plan", hint="plan again with them"
        )
    manifests = None if saved else paths or DEFAULT_PATHS
    with connected(
        g,
        manifests=manifests,
        allow_outside_root=allow_outside_root,
        backend_paths=_planned_paths(saved) if saved else None,
    ) as (client, backend):
        run = apply_run(
            client=client,
            backend=backend,
            paths=paths or DEFAULT_PATHS,
            allow_outside_root=allow_outside_root,
            saved_plan=saved,
            options=PlanOptions(targets=frozenset(targets), replace=frozenset(replace)),
            execution=ExecutionOptions(
                parallelism=parallelism,
                wait=wait_,
                timeout=timeout,
                poll_interval=poll_interval,
            ),
            lock_timeout=lock_timeout,
            show_plan=_shower(g),
            confirm=_confirmer(auto_approve=auto_approve or saved is not None, verb="apply"),
            reporter_factory=lambda: make_reporter(interactive=g.color),
            warn=warn,
        )
    if run.declined:
        click.echo("Apply cancelled.")
        return 1
    return _finish(run.report, verb="Apply")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Destroy only NAME (repeatable).",
)
@click.option("--parallelism", type=click.IntRange(1, 256), default=8, show_default=True)
@allow_outside_root_option
@lock_timeout_option
def destroy(
    paths: tuple[str, ...],
    auto_approve: bool,
    targets: tuple[str, ...],
    parallelism: int,
    allow_outside_root: bool,
    lock_timeout: float,
) -> int:
    """Delete the managed tuned models (all, or the --target ones).

    The state says what to delete. The manifests (default manifests/, if it
    exists) only add their lifecycle.preventDestroy protection.
    """
    g = get_globals()
    if not paths:
        paths = tuple(p for p in DEFAULT_PATHS if os.path.exists(p))
    with connected(g, manifests=paths, allow_outside_root=allow_outside_root) as (
        client,
        backend,
    ):
        run = apply_run(
            client=client,
            backend=backend,
            paths=paths,
            allow_outside_root=allow_outside_root,
            saved_plan=None,
            options=PlanOptions(targets=frozenset(targets)),
            execution=ExecutionOptions(parallelism=parallelism, wait=False),
            lock_timeout=lock_timeout,
            show_plan=_shower(g),
            confirm=_confirmer(auto_approve=auto_approve, verb="destroy"),
            reporter_factory=lambda: make_reporter(interactive=False),
            warn=warn,
            command="destroy",
            destroy=True,
        )
    if run.declined:
        click.echo("Destroy cancelled.")
        return 1
    return _finish(run.report, verb="Destroy")


@click.command("import")
@click.argument("name")
@click.argument("model_name", metavar="LIVE_NAME")
@click.argument("paths", nargs=-1, type=click.Path())
@allow_outside_root_option
@lock_timeout_option
def import_(
    name: str,
    model_name: str,
    paths: tuple[str, ...],
    allow_outside_root: bool,
    lock_timeout: float,
) -> int:
    """Bring a live model (tunedModels/ID, or a Vertex AI tuning job) under management.

    The model LIVE_NAME becomes manifest NAME: tunedModels/ID on the Gemini
    API, a tuning job (projects/P/locations/L/tuningJobs/N) on Vertex AI.
    """
    g = get_globals()
    backend_paths = paths or DEFAULT_PATHS
    with connected(g, backend_paths=backend_paths, allow_outside_root=allow_outside_root) as (
        client,
        backend,
    ):
        record = import_run(
            client=client,
            backend=backend,
            name=name,
            model_name=model_name,
            paths=paths or DEFAULT_PATHS,
            allow_outside_root=allow_outside_root,
            lock_timeout=lock_timeout,
            warn=warn,
        )
    click.echo(f"Imported {record.name} as TunedModel/{name}.")
    click.echo(
        "Its training data is unknown until the next replace; run `reconciler plan` to see "
        "how the manifest differs from it."
    )
    return 0


@click.command()
@click.argument("names", nargs=-1)
@click.option("--timeout", type=DURATION, default=None, help="Give up after this long (e.g. 30m).")
@click.option("--poll-interval", type=DURATION, default="1s", hidden=True)
@click.option(
    "--manifests",
    "paths",
    multiple=True,
    type=click.Path(),
    metavar="PATH",
    help="Manifests whose evaluations gate the models that finish (default: manifests/ if present).",
)
@lock_timeout_option
def wait(
    names: tuple[str, ...],
    timeout: float | None,
    poll_interval: float,
    paths: tuple[str, ...],
    lock_timeout: float,
) -> int:
    """Wait for in-flight tuning operations (all, or NAME...) to finish.

    A model that becomes ACTIVE is evaluated, as apply does, when its manifest
    has an evaluation; below a threshold (with gate: true) it counts as failed.
    """
    g = get_globals()
    with connected(g, backend_paths=paths or DEFAULT_PATHS) as (client, backend):
        gate = gate_for_wait(client=client, backend=backend, paths=paths or None)
        result = wait_run(
            client=client,
            backend=backend,
            names=names,
            timeout=timeout,
            reporter=make_reporter(interactive=g.color),
            lock_timeout=lock_timeout,
            warn=warn,
            poll_interval=poll_interval,
            gate=gate,
        )
    if not result.models:
        click.echo("Nothing is tuning.")
        return 0
    for name, model in sorted(result.models.items()):
        click.echo(f"TunedModel/{name}: {result.failed.get(name, model.state)}")
    if result.ok:
        return 0
    raise ApplyError(
        f"{len(result.failed)} of {len(result.models)} models did not become ACTIVE: "
        + ", ".join(sorted(result.failed)),
        hint="the lines above say why; `reconciler plan` shows what apply would do about it",
    )
