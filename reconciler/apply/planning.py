"""``reconciler plan`` as a function: load, refresh, diff; and the saved plan it writes.

Kept apart from ``workflows`` (apply, destroy) so a plan does not import the executor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.apply.preflight import checked_plan
from reconciler.apply.refresh import Warn, gather, locked
from reconciler.jsontext import pretty
from reconciler.plan import Plan, PlanOptions
from reconciler.planfile import plan_to_saved
from reconciler.providers import TuningProvider
from reconciler.spec import DesiredState
from reconciler.state.base import StateBackend


@dataclass(frozen=True)
class Planned:
    plan: Plan
    desired: DesiredState
    manifest_paths: tuple[str, ...]
    working_directory: str = ""
    options: PlanOptions = field(default_factory=PlanOptions)


def plan_run(
    *,
    client: TuningProvider,
    backend: StateBackend,
    paths: Sequence[str],
    options: PlanOptions,
    lock_timeout: float,
    warn: Warn,
    lock: bool = True,
    allow_outside_root: bool = False,
) -> Planned:
    """``reconciler plan``: load, refresh, diff.

    Holds the lock only while reading the state, never while waiting on the
    API: a server that is slow to answer must not keep every apply out.
    ``lock`` False (``plan --lock=false``) reads without it, as Terraform's
    ``-lock=false``: a writer may be halfway, so the plan may be out of date.
    """
    holding = (
        locked(backend, command="plan", timeout=lock_timeout, warn=warn)
        if lock
        else contextlib.nullcontext()
    )
    with holding:
        state = backend.read_deferred()
    desired, state, live = gather(
        client=client,
        backend=backend,
        paths=paths,
        state=state,
        allow_outside_root=allow_outside_root,
    )
    plan = checked_plan(client=client, desired=desired, live=live, state=state, options=options)
    return Planned(
        plan=plan,
        desired=desired,
        manifest_paths=tuple(paths),
        working_directory=str(Path.cwd()),
        options=options,
    )


def saved_plan_json(planned: Planned) -> str:
    document = plan_to_saved(
        planned.plan,
        manifest_paths=planned.manifest_paths,
        working_directory=planned.working_directory or None,
        options=planned.options,
    )
    return pretty(document)
