"""``reconciler apply`` and ``destroy`` as functions (``plan`` lives in
``planning``, ``import`` and ``wait`` in ``importing`` and ``waiting``).

Each takes a ready client and state backend (built by the CLI from flags) plus
callbacks for what must reach the user mid-way (the plan before confirmation,
warnings, progress), so the CLI only parses, calls one function and renders.
They hold the state lock for their whole run, except that an apply gives it up
once only tuning is left to follow (see ``StateJournal.detach``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.applied import StateDocument
from reconciler.apply.destroying import destroy_plan
from reconciler.apply.executor import (
    ApplyReport,
    ExecutionOptions,
    Outcome,
    execute_plan,
    stale_operation,
)
from reconciler.apply.gating import EvaluationGate
from reconciler.apply.journal import StateJournal
from reconciler.apply.outcomes import abandoned_replacement, accepted_values
from reconciler.apply.planning import Planned, plan_run, saved_plan_json
from reconciler.apply.preflight import checked_plan, on_backend, preflight
from reconciler.apply.progress import Reporter
from reconciler.apply.refresh import Warn, gather, locked
from reconciler.errors import ApplyError, StalePlanError, UsageError
from reconciler.live import LiveModel
from reconciler.plan import Plan, PlanOptions, make_plan
from reconciler.plan.compare import first_difference
from reconciler.planfile import (
    SAVED_PLAN_KIND,
    SavedPlan,
    check_saved_plan,
    plan_from_saved,
)
from reconciler.providers import TuningProvider
from reconciler.spec import DesiredState
from reconciler.state.base import StateBackend


def is_saved_plan(path: str) -> bool:
    """True when ``path`` is a plan file written by ``plan --out`` (not a manifest)."""
    candidate = Path(path)
    if not candidate.is_file() or candidate.suffix in (".yaml", ".yml"):
        return False
    try:
        with candidate.open("rb") as handle:
            head = handle.read(4096)
        return head.lstrip().startswith(b"{") and SAVED_PLAN_KIND.encode() in head
    except OSError:
        return False


def _adopt_fresh_lineage(state: StateDocument, plan: Plan) -> StateDocument:
    """A state never written yet takes the lineage the saved plan was made against.

    A missing state reads as an empty document with a new random lineage every
    time, so without this the first ``plan --out`` of a project could never be
    applied. Both being unwritten (serial 0) means nothing can have changed.
    """
    if state.serial == 0 and not state.models and plan.state_serial == 0:
        return state.model_copy(update={"lineage": plan.state_lineage})
    return state


def _needs_work(plan: Plan, state: StateDocument) -> bool:
    """Changes to make, or records to settle (adopted creates, preventDestroy flags,
    operations of a run killed before it saw them end, values accepted from live)."""
    if plan.has_changes:
        return True
    for action in plan.actions:
        record = state.models.get(action.model)
        if record is not None and (
            record.applied is None
            or record.preventDestroy != action.prevent_destroy
            or stale_operation(action, record)
            or accepted_values(action, record)
            or abandoned_replacement(action, record)
        ):
            return True
    return False


# How long recording a finished tuning waits for a lock held by another command
# (the run gave the lock up while following tuning); ``--lock-timeout`` if longer.
RELOCK_TIMEOUT_SECONDS = 60.0


@dataclass
class ApplyRun:
    plan: Plan
    report: ApplyReport | None  # None: nothing to do, or the user declined
    declined: bool = False


def apply_run(
    *,
    client: TuningProvider,
    backend: StateBackend,
    paths: Sequence[str],
    saved_plan: str | None,
    options: PlanOptions,
    execution: ExecutionOptions,
    lock_timeout: float,
    show_plan: Callable[[Plan], None],
    confirm: Callable[[Plan], bool],
    reporter_factory: Callable[[], Reporter],
    warn: Warn,
    command: str = "apply",
    destroy: bool = False,
    allow_outside_root: bool = False,
) -> ApplyRun:
    """``reconciler apply`` (from manifests or a saved plan) and ``reconciler destroy``."""
    if saved_plan is not None:
        with open(saved_plan, encoding="utf-8") as handle:
            try:
                data: Any = json.load(handle)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{saved_plan}: not a readable plan file ({exc})") from None
        saved = plan_from_saved(data)
        paths = saved.manifest_paths
        _check_manifest_paths_here(saved, plan_file=saved_plan)
    with contextlib.ExitStack() as holding:
        holding.enter_context(locked(backend, command=command, timeout=lock_timeout, warn=warn))
        desired, state, live = gather(
            client=client, backend=backend, paths=paths, allow_outside_root=allow_outside_root
        )
        if saved_plan is not None:
            state = _adopt_fresh_lineage(state, saved.plan)
            hashes = {name: ds.hash for name, ds in desired.datasets.items()}
            check_saved_plan(saved, state=state, live=live, dataset_hashes=hashes)
            plan = _replanned(saved, client=client, desired=desired, live=live, state=state)
            preflight(client, plan, live)
        elif destroy:
            plan = on_backend(
                client, destroy_plan(desired=desired, live=live, state=state, options=options)
            )
        else:
            plan = checked_plan(
                client=client, desired=desired, live=live, state=state, options=options
            )
        show_plan(plan)
        if not _needs_work(plan, state):
            return ApplyRun(plan=plan, report=None)
        if plan.has_changes and not confirm(plan):
            return ApplyRun(plan=plan, report=None, declined=True)
        journal = StateJournal(backend=backend, document=state)

        def release_while_tuning() -> None:
            # Every request is sent and recorded; following tuning can take hours.
            # Other commands may use the state meanwhile: the outcome of each
            # tuning is written under the lock taken again for that write.
            relock_timeout = max(lock_timeout, RELOCK_TIMEOUT_SECONDS)
            journal.detach(
                lambda: locked(backend, command=command, timeout=relock_timeout, warn=warn)
            )
            holding.close()

        reporter = reporter_factory()
        evaluations = EvaluationGate(
            client=client,
            desired=desired,
            record_of=journal.record,
            parallelism=execution.parallelism,
        )
        try:
            report = execute_plan(
                plan=plan,
                client=client,
                journal=journal,
                datasets=desired.datasets,
                reporter=reporter,
                options=execution,
                on_only_tuning=release_while_tuning,
                gate=evaluations.gate,
                evaluate=lambda action: evaluations.evaluate(action, journal),
            )
        except KeyboardInterrupt:
            # The pool has let the requests already sent finish and record
            # themselves, so the state is consistent; say what keeps running.
            raise _interrupted(command, journal.document) from None
        finally:
            reporter.close()
    return ApplyRun(plan=plan, report=report)


def _replanned(
    saved: SavedPlan,
    *,
    client: TuningProvider,
    desired: DesiredState,
    live: list[LiveModel],
    state: StateDocument,
) -> Plan:
    """The plan the saved plan's inputs give now, if the file holds exactly that plan.

    The file is not trusted (it may have travelled as a CI artifact): what is
    carried out is planned here again from the same manifests, state and live
    models, so nothing the planner would not do (a delete of a model the state
    does not manage, a widened updateMask) can be applied from an edited file.
    """
    now = on_backend(
        client, make_plan(desired=desired, live=live, state=state, options=saved.options)
    )
    difference = first_difference(saved.plan, now)
    if difference is not None:
        raise StalePlanError(
            f"saved plan does not match what its manifests, state and live models give now: "
            f"{difference}",
            hint="the file was changed after `reconciler plan --out`; make the plan again "
            "and apply the new file",
        )
    return now


def _check_manifest_paths_here(saved: SavedPlan, *, plan_file: str) -> None:
    """Relative manifest paths resolve against the current directory, as when the
    plan was made; one missing means apply runs somewhere else, which a bare
    "no such file" would not tell the user."""
    missing = [path for path in saved.manifest_paths if not Path(path).exists()]
    if not missing:
        return
    where = f" (it was made in {saved.working_directory})" if saved.working_directory else ""
    raise UsageError(
        f"{plan_file}: the plan's manifests {', '.join(missing)} are not found "
        f"from {Path.cwd()}{where}",
        hint="run `reconciler apply FILE` in the directory where the plan was made",
    )


def _interrupted(command: str, state: StateDocument) -> ApplyError:
    tuning = sorted(name for name, record in state.models.items() if record.operation)
    pending = sorted(name for name, record in state.models.items() if record.pendingCreate)
    parts = [f"{command} interrupted; the state is saved"]
    if tuning:
        parts.append("still tuning on the server: " + ", ".join(tuning))
    if pending:
        parts.append("creates that may not have been sent: " + ", ".join(pending))
    return ApplyError(
        "; ".join(parts),
        hint=f"run `reconciler {command}` again to finish (it picks the operations up), "
        "or `reconciler wait` to follow the tuning",
    )


__all__ = [
    "ApplyRun",
    "Outcome",
    "Planned",
    "apply_run",
    "is_saved_plan",
    "plan_run",
    "saved_plan_json",
]
