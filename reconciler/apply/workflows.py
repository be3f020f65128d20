"""The commands that change things, as functions: plan, apply, destroy, import, wait.

Each takes a ready client and state backend (built by the CLI from flags) plus
callbacks for what must reach the user mid-way (the plan before confirmation,
warnings, progress), so the CLI only parses, calls one function and renders.
Writers hold the state lock for their whole run; readers never take it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.api import GeminiClient
from reconciler.applied import ModelRecord, StateDocument
from reconciler.apply.executor import (
    ApplyReport,
    ExecutionOptions,
    Outcome,
    execute_plan,
    stale_operation,
)
from reconciler.apply.journal import StateJournal
from reconciler.apply.progress import Reporter
from reconciler.errors import NotFoundError, PlanError, ReconcilerError, UsageError
from reconciler.live import ACTIVE, CREATING, LiveModel
from reconciler.manifests import load_manifests
from reconciler.plan import Plan, PlanOptions, make_plan
from reconciler.planfile import SAVED_PLAN_KIND, check_saved_plan, plan_from_saved, plan_to_saved
from reconciler.spec import AppliedSpec, DesiredState, Hyperparameters
from reconciler.state.base import StateBackend

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Planned:
    plan: Plan
    desired: DesiredState
    manifest_paths: tuple[str, ...]


def load_desired(paths: Sequence[str], *, allow_outside_root: bool = False) -> DesiredState:
    """Load and resolve manifests (ManifestError lists every problem)."""
    result = load_manifests(
        [Path(p) for p in paths], root=Path.cwd(), allow_outside_root=allow_outside_root
    )
    return result.desired


@contextmanager
def _locked(backend: StateBackend, *, command: str, timeout: float, warn: Warn) -> Iterator[None]:
    with backend.lock(command=command, timeout=timeout) as held:
        if held.warning:
            warn(held.warning)
        yield


def gather(
    *, client: GeminiClient, backend: StateBackend, paths: Sequence[str]
) -> tuple[DesiredState, StateDocument, list[LiveModel]]:
    """Manifests, state and every live tuned model (one paginated list, no per-model GET).

    The listing runs on a second thread while the manifests and the state are
    read: the API's time to answer overlaps with our own parsing, which at
    10,000 models takes about as long. A manifest error wins over a listing
    error: it is the one the user can fix without the network.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh") as pool:
        listing = pool.submit(lambda: list(client.list_tuned_models(snapshots=False)))
        try:
            desired = load_desired(paths)
            state = backend.read()
        except BaseException:
            listing.exception()  # let the listing end before the client closes
            raise
        return desired, state, listing.result()


def plan_run(
    *,
    client: GeminiClient,
    backend: StateBackend,
    paths: Sequence[str],
    options: PlanOptions,
    lock_timeout: float,
    warn: Warn,
) -> Planned:
    """``reconciler plan``: load, refresh, diff. Holds the lock only while reading."""
    with _locked(backend, command="plan", timeout=lock_timeout, warn=warn):
        desired, state, live = gather(client=client, backend=backend, paths=paths)
    plan = make_plan(desired=desired, live=live, state=state, options=options)
    return Planned(plan=plan, desired=desired, manifest_paths=tuple(paths))


def saved_plan_json(planned: Planned) -> str:
    return json.dumps(plan_to_saved(planned.plan, manifest_paths=planned.manifest_paths), indent=2)


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
    operations of a run killed before it saw them end)."""
    if plan.has_changes:
        return True
    for action in plan.actions:
        record = state.models.get(action.model)
        if record is not None and (
            record.applied is None
            or record.preventDestroy != action.prevent_destroy
            or stale_operation(action, record)
        ):
            return True
    return False


@dataclass
class ApplyRun:
    plan: Plan
    report: ApplyReport | None  # None: nothing to do, or the user declined
    declined: bool = False


def apply_run(
    *,
    client: GeminiClient,
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
    with _locked(backend, command=command, timeout=lock_timeout, warn=warn):
        desired, state, live = gather(client=client, backend=backend, paths=paths)
        if saved_plan is not None:
            state = _adopt_fresh_lineage(state, saved.plan)
            hashes = {name: ds.hash for name, ds in desired.datasets.items()}
            check_saved_plan(saved, state=state, live=live, dataset_hashes=hashes)
            plan = saved.plan
        elif destroy:
            plan = _destroy_plan(desired=desired, live=live, state=state, options=options)
        else:
            plan = make_plan(desired=desired, live=live, state=state, options=options)
        show_plan(plan)
        if not _needs_work(plan, state):
            return ApplyRun(plan=plan, report=None)
        if plan.has_changes and not confirm(plan):
            return ApplyRun(plan=plan, report=None, declined=True)
        journal = StateJournal(backend=backend, document=state)
        reporter = reporter_factory()
        try:
            report = execute_plan(
                plan=plan,
                client=client,
                journal=journal,
                datasets=desired.datasets,
                reporter=reporter,
                options=execution,
            )
        finally:
            reporter.close()
    return ApplyRun(plan=plan, report=report)


def _destroy_plan(
    *, desired: DesiredState, live: Sequence[LiveModel], state: StateDocument, options: PlanOptions
) -> Plan:
    """Delete every managed model (or the targets): plan as if their manifests were removed."""
    targets = options.targets or frozenset(state.models)
    unknown = sorted(t for t in targets if t not in state.models)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(state.models), n=1)
        raise PlanError(
            f"--target {unknown[0]}: the state manages no such model",
            hint=f"did you mean `{close[0]}`?" if close else "see `reconciler state list`",
        )
    protected = [
        name
        for name in sorted(targets)
        if name in desired.models and desired.models[name].lifecycle.prevent_destroy
    ]
    if protected:
        raise PlanError(
            "lifecycle.preventDestroy forbids destroying " + ", ".join(protected),
            hint="set preventDestroy: false and apply first, or leave these out with --target",
        )
    # Models tuned from a destroyed one go too (they are deleted first), unless kept by the plan.
    kept = {name: model for name, model in desired.models.items() if name not in targets}
    remaining = DesiredState(models=kept, datasets=desired.datasets)
    plan = make_plan(
        desired=remaining,
        live=live,
        state=state,
        options=PlanOptions(targets=frozenset(targets)),
    )
    return Plan(
        actions=tuple(
            replace(a, reasons=("destroy requested",))
            for a in plan.actions
            if a.kind.value == "delete"
        ),
        state_lineage=plan.state_lineage,
        state_serial=plan.state_serial,
    )


def import_run(
    *,
    client: GeminiClient,
    backend: StateBackend,
    name: str,
    model_name: str,
    paths: Sequence[str],
    lock_timeout: float,
    warn: Warn,
) -> ModelRecord:
    """``reconciler import NAME tunedModels/ID``: record a live model as applied under NAME."""
    if not model_name.startswith("tunedModels/"):
        raise UsageError(f"{model_name}: expected a tuned model name like tunedModels/my-model")
    desired = load_desired(paths)
    if name not in desired.models:
        close = difflib.get_close_matches(name, sorted(desired.models), n=1)
        raise UsageError(
            f"no TunedModel manifest named {name}: write its manifest first, or the next plan would delete it",
            hint=f"did you mean `{close[0]}`?" if close else "manifest names are metadata.name",
        )
    try:
        live = client.get_tuned_model(model_name)
    except NotFoundError:
        raise ReconcilerError(
            f"{model_name} does not exist", hint="see `reconciler inventory`"
        ) from None
    with _locked(backend, command="import", timeout=lock_timeout, warn=warn):
        state = backend.read()
        if name in state.models:
            raise ReconcilerError(
                f"{name} is already managed (as {state.models[name].name})",
                hint=f"`reconciler state rm {name}` first to re-import it",
            )
        taken = [n for n, r in state.models.items() if r.name == live.name]
        if taken:
            raise ReconcilerError(f"{live.name} is already managed as {taken[0]}")
        operation = None
        if live.state == CREATING:
            operations = client.list_operations(live.name)
            operation = operations[-1].name if operations else None
        record = ModelRecord(
            name=live.name,
            applied=applied_from_live(live),
            operation=operation,
            imported=True,
            preventDestroy=desired.models[name].lifecycle.prevent_destroy,
            createTime=live.create_time,
            updateTime=live.update_time,
        )
        StateJournal(backend=backend, document=state).put(name, record)
    return record


def applied_from_live(live: LiveModel) -> AppliedSpec:
    """What an imported model is taken to have been created with (training data unknown)."""
    hp = live.hyperparameters

    def number(key: str) -> float | None:
        value = hp.get(key)
        return float(value) if value is not None else None

    epochs, batch = hp.get("epochCount"), hp.get("batchSize")
    return AppliedSpec(
        baseModel=None if live.tuned_model_source else live.base_model,
        tunedModelSource=live.tuned_model_source,
        displayName=live.display_name,
        description=live.description,
        temperature=live.temperature,
        topP=live.top_p,
        topK=live.top_k,
        readerProjectNumbers=live.reader_project_numbers,
        hyperparameters=Hyperparameters(
            epochCount=int(epochs) if epochs is not None else None,
            batchSize=int(batch) if batch is not None else None,
            learningRate=number("learningRate"),
            learningRateMultiplier=number("learningRateMultiplier"),
        ),
        dataset=None,
    )


@dataclass
class WaitResult:
    models: dict[str, LiveModel]  # manifest name -> final live model
    failed: dict[str, str]  # manifest name -> why (FAILED, deleted, timed out)

    @property
    def ok(self) -> bool:
        return not self.failed


def wait_run(
    *,
    client: GeminiClient,
    backend: StateBackend,
    names: Sequence[str],
    timeout: float | None,
    reporter: Reporter,
    lock_timeout: float,
    warn: Warn,
    poll_interval: float = 1.0,
) -> WaitResult:
    """``reconciler wait``: follow in-flight tunings, then record how they ended."""
    state = backend.read()
    for name in names:
        if name not in state.models:
            close = difflib.get_close_matches(name, sorted(state.models), n=1)
            raise UsageError(
                f"{name}: the state manages no such model",
                hint=f"did you mean `{close[0]}`?" if close else "see `reconciler state list`",
            )
    chosen = list(names) or sorted(
        n for n, r in state.models.items() if r.operation or r.pendingCreate
    )
    if not chosen:
        return WaitResult(models={}, failed={})
    by_live = {state.models[n].name: n for n in chosen}
    totals: dict[str, int] = {}
    for live_name, name in by_live.items():
        record = state.models[name]
        spec = record.applied or record.pendingCreate
        if spec is not None and spec.dataset is not None and spec.dataset.examples:
            totals[live_name] = spec.hyperparameters.estimated_steps(spec.dataset.examples)
    for live_name in by_live:
        reporter.tuning(live_name.removeprefix("tunedModels/"), totals.get(live_name))
    final = client.wait_for_models(
        list(by_live),
        timeout=timeout,
        poll_interval=poll_interval,
        total_steps=totals,
        on_progress=reporter.progress,
    )
    reporter.close()
    models = {by_live[live_name]: model for live_name, model in final.items()}
    failed: dict[str, str] = {}
    for name, model in models.items():
        if model.state == CREATING:
            failed[name] = "still tuning at --timeout (the operation stays in state)"
        elif model.state != ACTIVE:
            failed[name] = f"{model.state.lower()}"
    _record_wait(
        backend=backend,
        client=client,
        models=models,
        lock_timeout=lock_timeout,
        warn=warn,
        failed=failed,
    )
    return WaitResult(models=models, failed=failed)


def _record_wait(
    *,
    backend: StateBackend,
    client: GeminiClient,
    models: dict[str, LiveModel],
    lock_timeout: float,
    warn: Warn,
    failed: dict[str, str],
) -> None:
    finished = {n: m for n, m in models.items() if m.state != CREATING}
    if not finished:
        return
    with _locked(backend, command="wait", timeout=lock_timeout, warn=warn):
        state = backend.read()
        journal = StateJournal(backend=backend, document=state)
        for name, model in finished.items():
            record = state.models.get(name)
            if record is None:
                continue
            changes: dict[str, object] = {"operation": None}
            if record.applied is None and record.pendingCreate is not None:
                changes.update(applied=record.pendingCreate, pendingCreate=None)
            if model.state == ACTIVE:
                changes.update(
                    lastError=None, createTime=model.create_time, updateTime=model.update_time
                )
            elif record.operation:
                message = "tuning failed"
                try:
                    operation = client.get_operation(record.operation)
                    if operation.error_message:
                        message = f"tuning failed: {operation.error_message}"
                except ReconcilerError:
                    pass
                changes["lastError"] = message
                failed[name] = message
            journal.put(name, record.model_copy(update=changes))


__all__ = [
    "ApplyRun",
    "Outcome",
    "Planned",
    "WaitResult",
    "apply_run",
    "import_run",
    "is_saved_plan",
    "plan_run",
    "saved_plan_json",
    "wait_run",
]
