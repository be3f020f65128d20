"""Carry out a plan: API calls in dependency order, every step recorded in state first.

The write-ahead protocol (``reconciler.applied``) is what makes a crash at any
moment safe:

* create / recreate: record ``pendingCreate`` -> POST with ``tunedModelId`` ->
  record ``applied`` + ``operation``. A crash in between leaves
  ``pendingCreate``; the next plan finds the deterministic id live (adopt) or
  not (create again). Nothing is created twice, nothing is forgotten.
* replace: DELETE (a 404 is fine) -> record ``pendingCreate`` with ``applied``
  cleared -> create as above.
* update: PATCH with the plan's ``updateMask`` -> record the merged spec.
* delete: DELETE (a 404 is fine) -> forget the record.

A create answered with 409 after a retry means our own earlier attempt
landed and only its answer was lost: the model is adopted. A 409 on the first
attempt is somebody else's model: the action fails and the record is rolled
back, so it is never adopted by mistake. Definite rejections (4xx) roll the
intent back too; an uncertain failure (no answer, 5xx after retries) keeps it,
for the next run to resolve.

Independent branches go on when one action fails; the dependants of a failed,
skipped or still-tuning model are skipped with the reason. Tuning is followed
by polling (one list page covers up to 1000 models) from the main thread while
the pool runs the requests.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.api import GeminiClient, ProgressUpdate
from reconciler.applied import ModelRecord
from reconciler.apply.journal import StateJournal
from reconciler.apply.progress import Reporter
from reconciler.errors import (
    AlreadyExistsError,
    ApiError,
    NotFoundError,
    ReconcilerError,
    StateError,
)
from reconciler.live import ACTIVE, CREATING, FAILED, LiveModel
from reconciler.plan import CREATING_KINDS, Action, ActionKind, Plan
from reconciler.spec import AppliedSpec, LoadedDataset

DELETED = "DELETED"
# Above this many models in flight, one list pass is cheaper than a GET each.
GET_INSTEAD_OF_LIST_MAX = 3


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    UNCHANGED = "unchanged"
    IN_FLIGHT = "in flight"  # tuning continues (--no-wait or --timeout); tracked in state
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ActionResult:
    action: Action
    outcome: Outcome
    detail: str = ""


@dataclass
class ApplyReport:
    results: list[ActionResult] = field(default_factory=list)
    timed_out: bool = False

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        return not self.timed_out and all(
            r.outcome not in (Outcome.FAILED, Outcome.SKIPPED) for r in self.results
        )


@dataclass(frozen=True)
class ExecutionOptions:
    parallelism: int = 8
    wait: bool = True
    timeout: float | None = None  # seconds to wait for tuning; None = until done
    poll_interval: float = 1.0
    max_poll_interval: float = 10.0


def stale_operation(action: Action, record: ModelRecord) -> bool:
    """True when state still names an operation for a model that is live and done tuning."""
    return (
        action.kind is ActionKind.NOOP
        and record.operation is not None
        and action.live_state not in (None, CREATING)
    )


def total_steps(spec: AppliedSpec | None) -> int | None:
    if spec is None or spec.dataset is None or not spec.dataset.examples:
        return None
    return spec.hyperparameters.estimated_steps(spec.dataset.examples)


class _Run:
    """State of one execution; methods run on worker threads or the main thread as noted."""

    def __init__(
        self,
        *,
        plan: Plan,
        client: GeminiClient,
        journal: StateJournal,
        datasets: Mapping[str, LoadedDataset],
        reporter: Reporter,
        options: ExecutionOptions,
        clock: Callable[[], float],
    ) -> None:
        self.client = client
        self.journal = journal
        self.datasets = datasets
        self.reporter = reporter
        self.options = options
        self.clock = clock
        self.actions = {a.model: a for a in plan.actions}
        self.order = [a.model for a in plan.actions]
        self.results: dict[str, ActionResult] = {}
        self.tuning: dict[str, Action] = {}  # model -> action, waiting for ACTIVE/FAILED

    # ------------------------------------------------------------ scheduling (main thread)

    def blockers(self, name: str) -> list[str]:
        """Actions that must be finished (and, for sources, ACTIVE) before ``name`` runs."""
        action = self.actions[name]
        if action.kind is ActionKind.DELETE:
            return [
                other.model
                for other in self.actions.values()
                if other.kind is ActionKind.DELETE and other.depends_on == name
            ]
        if action.kind in CREATING_KINDS and action.depends_on in self.actions:
            return [action.depends_on]
        return []

    def readiness(self, name: str) -> tuple[bool, str | None]:
        """(ready, skip reason): not ready while a blocker is running or tuning."""
        for blocker in self.blockers(name):
            result = self.results.get(blocker)
            if result is None:
                return False, None
            if result.outcome in (Outcome.FAILED, Outcome.SKIPPED):
                return False, f"{blocker} {result.outcome.value}"
            if result.outcome is Outcome.IN_FLIGHT:
                return (
                    False,
                    f"source model {blocker} is still tuning; apply again once it is ACTIVE",
                )
        return True, None

    def finish(self, result: ActionResult) -> None:
        self.results[result.action.model] = result
        self.reporter.finished(result)

    # ------------------------------------------------------------ actions (worker threads)

    def perform(self, action: Action) -> ActionResult | None:
        """Run one action; None means "tuning started, follow it"."""
        self.reporter.started(action)
        try:
            if action.kind is ActionKind.DELETE:
                return self.delete(action)
            if action.kind is ActionKind.UPDATE:
                return self.update(action)
            if action.kind in CREATING_KINDS:
                return self.create(action)
            return self.settle(action)
        except StateError:
            raise  # without a durable record, going on would orphan models
        except ReconcilerError as exc:
            return ActionResult(action, Outcome.FAILED, exc.message)

    def delete(self, action: Action) -> ActionResult:
        with contextlib.suppress(NotFoundError):  # already gone: the goal is reached
            self.client.delete_tuned_model(action.name)
        self.journal.remove(action.model)
        return ActionResult(action, Outcome.SUCCEEDED, "deleted")

    def update(self, action: Action) -> ActionResult:
        assert action.spec is not None
        live = self.client.update_tuned_model(
            action.name, spec=action.spec, update_mask=action.update_mask
        )
        record = self.journal.record(action.model) or ModelRecord(name=action.name)
        self.journal.put(
            action.model,
            record.model_copy(
                update={
                    "applied": action.spec,
                    "pendingCreate": None,
                    "preventDestroy": action.prevent_destroy,
                    "updateTime": live.update_time,
                }
            ),
        )
        return ActionResult(action, Outcome.SUCCEEDED, "updated " + ", ".join(action.update_mask))

    def settle(self, action: Action) -> ActionResult | None:
        """noop / wait: adopt an interrupted create, keep preventDestroy current, follow tuning."""
        record = self.journal.record(action.model)
        if record is not None:
            changes: dict[str, object] = {}
            if record.applied is None and action.spec is not None:
                changes.update(applied=action.spec, pendingCreate=None)
                if record.operation is None and action.kind is ActionKind.WAIT:
                    changes["operation"] = self.latest_operation(action.name)
            if stale_operation(action, record):
                # A noop model is live and not tuning: a run killed before it saw the
                # tuning end left the operation behind; it is over, so forget it.
                changes["operation"] = None
            if record.preventDestroy != action.prevent_destroy:
                changes["preventDestroy"] = action.prevent_destroy
            if changes:
                self.journal.put(action.model, record.model_copy(update=changes))
        if action.kind is ActionKind.WAIT:
            return None
        return ActionResult(action, Outcome.UNCHANGED, "")

    def latest_operation(self, name: str) -> str | None:
        operations = self.client.list_operations(name)
        return operations[-1].name if operations else None

    def create(self, action: Action) -> ActionResult | None:
        spec = action.spec
        assert spec is not None
        model_id = action.name.removeprefix("tunedModels/")
        if spec.dataset is None or spec.dataset.name not in self.datasets:
            return ActionResult(action, Outcome.FAILED, "training data is not loaded")
        examples = self.datasets[spec.dataset.name].examples
        if action.kind is ActionKind.REPLACE:
            with contextlib.suppress(NotFoundError):
                self.client.delete_tuned_model(action.name)
        before = self.journal.record(action.model)
        intent = ModelRecord(
            name=action.name,
            pendingCreate=spec,
            preventDestroy=action.prevent_destroy,
        )
        self.journal.put(action.model, intent)
        try:
            operation = self.client.create_tuned_model(
                model_id=model_id, spec=spec, examples=examples
            )
            operation_name: str | None = operation.name
        except AlreadyExistsError as exc:
            if not exc.after_retry:
                self.roll_back(action, before)
                return ActionResult(
                    action,
                    Outcome.FAILED,
                    f"{action.name} already exists and was not created by this run; "
                    f"bring it under management with `reconciler import {action.model} {action.name}`",
                )
            operation_name = self.latest_operation(action.name)  # our lost answer: adopt
        except ApiError as exc:
            if not exc.temporary:
                self.roll_back(action, before)  # rejected: nothing was created
            raise
        self.journal.put(
            action.model,
            intent.model_copy(
                update={"applied": spec, "pendingCreate": None, "operation": operation_name}
            ),
        )
        return None

    def roll_back(self, action: Action, before: ModelRecord | None) -> None:
        if before is None or action.kind is ActionKind.REPLACE:
            # A replace has already deleted the old model: the record goes too,
            # and the next plan creates it again.
            if before is None:
                self.journal.remove(action.model)
            else:
                self.journal.put(action.model, before.model_copy(update={"pendingCreate": None}))
        else:
            self.journal.put(action.model, before)

    # ------------------------------------------------------------ tuning (main thread)

    def observe(self, names: list[str]) -> dict[str, LiveModel]:
        """The current live models for ``names`` (tunedModels/x), by GETs or one list pass."""
        if len(names) <= GET_INSTEAD_OF_LIST_MAX:
            seen: dict[str, LiveModel] = {}
            for name in names:
                try:
                    seen[name] = self.client.get_tuned_model(name)
                except NotFoundError:
                    seen[name] = LiveModel(name=name, state=DELETED)
            return seen
        wanted = set(names)
        seen = {m.name: m for m in self.client.list_tuned_models() if m.name in wanted}
        for name in wanted - set(seen):
            seen[name] = LiveModel(name=name, state=DELETED)
        return seen

    def poll(self) -> None:
        by_name = {a.name: a for a in self.tuning.values()}
        for name, live in self.observe(sorted(by_name)).items():
            action = by_name[name]
            steps = total_steps(action.spec)
            latest = live.snapshots[-1] if live.snapshots else None
            completed = (steps or 0) if live.state == ACTIVE else (latest.step if latest else 0)
            self.reporter.progress(
                ProgressUpdate(
                    model=name,
                    state=live.state,
                    completed_steps=completed,
                    total_steps=steps,
                    percent=min(100.0, 100.0 * completed / steps) if steps else None,
                    latest_snapshot=latest,
                )
            )
            if live.state == CREATING:
                continue
            del self.tuning[action.model]
            self.finish(self.conclude(action, live))

    def conclude(self, action: Action, live: LiveModel) -> ActionResult:
        record = self.journal.record(action.model)
        if live.state == ACTIVE:
            if record is not None:
                self.journal.put(
                    action.model,
                    record.model_copy(
                        update={
                            "operation": None,
                            "lastError": None,
                            "createTime": live.create_time,
                            "updateTime": live.update_time,
                        }
                    ),
                )
            return ActionResult(action, Outcome.SUCCEEDED, "ACTIVE")
        if live.state == FAILED:
            message = "tuning failed"
            if record is not None and record.operation:
                try:
                    operation = self.client.get_operation(record.operation)
                    if operation.error_message:
                        message = f"tuning failed: {operation.error_message}"
                except ApiError:
                    pass
            if record is not None:
                self.journal.put(
                    action.model,
                    record.model_copy(update={"operation": None, "lastError": message}),
                )
            return ActionResult(action, Outcome.FAILED, message + " (the next plan replaces it)")
        return ActionResult(action, Outcome.FAILED, f"{action.name} disappeared while tuning")


def execute_plan(
    *,
    plan: Plan,
    client: GeminiClient,
    journal: StateJournal,
    datasets: Mapping[str, LoadedDataset],
    reporter: Reporter,
    options: ExecutionOptions,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ApplyReport:
    """Run every action of ``plan``; returns what happened to each."""
    run = _Run(
        plan=plan,
        client=client,
        journal=journal,
        datasets=datasets,
        reporter=reporter,
        options=options,
        clock=clock,
    )
    pending = list(run.order)
    running: dict[Future[ActionResult | None], Action] = {}
    interval = options.poll_interval
    next_poll = clock()
    deadline = None if options.timeout is None else clock() + options.timeout
    report = ApplyReport()
    with ThreadPoolExecutor(max_workers=max(1, options.parallelism)) as pool:
        while pending or running or run.tuning:
            for name in list(pending):
                if len(running) >= options.parallelism:
                    break
                ready, skip = run.readiness(name)
                if skip is not None:
                    pending.remove(name)
                    run.finish(ActionResult(run.actions[name], Outcome.SKIPPED, skip))
                elif ready:
                    pending.remove(name)
                    running[pool.submit(run.perform, run.actions[name])] = run.actions[name]
            if not running and not run.tuning:
                if pending:  # blocked on nothing runnable: cannot happen with a valid plan
                    for name in pending:
                        run.finish(ActionResult(run.actions[name], Outcome.SKIPPED, "blocked"))
                    pending.clear()
                break
            timeout = max(0.0, next_poll - clock()) if run.tuning else None
            done: set[Future[ActionResult | None]] = set()
            if running:
                done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
            elif timeout:
                sleep(timeout)
            for future in done:
                action = running.pop(future)
                result = future.result()  # StateError propagates and stops the run
                if result is not None:
                    run.finish(result)
                elif options.wait:
                    run.tuning[action.model] = action
                    run.reporter.tuning(action.model, total_steps(action.spec))
                else:
                    detail = "tuning started" if action.kind in CREATING_KINDS else "still tuning"
                    run.finish(ActionResult(action, Outcome.IN_FLIGHT, detail))
            if run.tuning and clock() >= next_poll:
                run.poll()
                interval = min(options.max_poll_interval, interval * 1.5)
                next_poll = clock() + interval
            if deadline is not None and run.tuning and clock() >= deadline and not running:
                report.timed_out = True
                for _, action in sorted(run.tuning.items()):
                    run.finish(
                        ActionResult(
                            action,
                            Outcome.IN_FLIGHT,
                            "still tuning at --timeout; the operation is kept in state",
                        )
                    )
                run.tuning.clear()
    report.results = [run.results[name] for name in run.order if name in run.results]
    return report
