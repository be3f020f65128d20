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

This module schedules; ``actions`` holds the requests and records of each
action, ``outcomes`` the result values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from reconciler.api import TuningPoller
from reconciler.apply.actions import ActionRunner
from reconciler.apply.conclusion import Gate, conclude_tuning, followed_operation, no_gate
from reconciler.apply.journal import StateJournal
from reconciler.apply.outcomes import (
    ActionResult,
    ApplyReport,
    ExecutionOptions,
    Outcome,
    stale_operation,
    total_steps,
)
from reconciler.apply.progress import Reporter
from reconciler.live import CREATING, FAILED, LiveModel
from reconciler.plan import CREATING_KINDS, Action, ActionKind, Plan
from reconciler.providers import TuningProvider
from reconciler.spec import LoadedDataset


class _Run:
    """State of one execution; methods run on worker threads or the main thread as noted."""

    def __init__(
        self,
        *,
        plan: Plan,
        client: TuningProvider,
        journal: StateJournal,
        datasets: Mapping[str, LoadedDataset],
        reporter: Reporter,
        options: ExecutionOptions,
        clock: Callable[[], float],
        gate: Gate,
        evaluate: Callable[[Action], ActionResult] | None,
    ) -> None:
        self.runner = ActionRunner(
            client=client, journal=journal, datasets=datasets, reporter=reporter, evaluate=evaluate
        )
        self.client = client
        self.journal = journal
        self.gate = gate
        self.poller = TuningPoller(client, on_progress=reporter.progress)
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

    def perform(self, action: Action) -> ActionResult | None:
        return self.runner.perform(action)

    # ------------------------------------------------------------ tuning (main thread)

    def follow(self, action: Action) -> None:
        """Start following the tuning of ``action``'s model."""
        self.tuning[action.model] = action
        steps = total_steps(action.spec)
        live_name = self.tuned_name(action)
        self.poller.set_total(live_name, steps)
        self.reporter.tuning(action.model, steps, live_name=live_name)

    def tuned_name(self, action: Action) -> str:
        """The live name whose tuning ``action`` follows, as the state records it.

        The plan's name, unless the create chose another (a backend that
        assigns ids: ``live_names``).
        """
        record = self.journal.record(action.model)
        if record is None:
            return action.tuned_name
        if action.successor is not None:
            return record.candidate.name if record.candidate is not None else action.successor
        return record.name

    def poll(self) -> None:
        by_name = {self.tuned_name(a): a for a in self.tuning.values()}
        for name, live in self.poller.poll(sorted(by_name)).items():
            if live.state == CREATING:
                continue
            action = by_name[name]
            del self.tuning[action.model]
            self.finish(self.conclude(action, live))

    def conclude(self, action: Action, live: LiveModel) -> ActionResult:
        record = self.journal.record(action.model)
        ended = conclude_tuning(
            model=action.model,
            live=live,
            followed=followed_operation(record, live.name),
            journal=self.journal,
            client=self.client,
            gate=self.gate,
        )
        detail = ended.message
        if live.state == FAILED and action.successor is None:
            detail += " (the next plan replaces it)"
        if ended.note:
            detail += "; " + ended.note
        return ActionResult(
            action, Outcome.SUCCEEDED if ended.succeeded else Outcome.FAILED, detail
        )


def execute_plan(
    *,
    plan: Plan,
    client: TuningProvider,
    journal: StateJournal,
    datasets: Mapping[str, LoadedDataset],
    reporter: Reporter,
    options: ExecutionOptions,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_only_tuning: Callable[[], None] | None = None,
    gate: Gate = no_gate,
    evaluate: Callable[[Action], ActionResult] | None = None,
) -> ApplyReport:
    """Run every action of ``plan``; returns what happened to each.

    ``on_only_tuning`` is called once, when every request has been sent and
    recorded and only tunings are left to follow (apply gives the state lock up
    there). ``gate`` is handed to ``conclude_tuning`` for every model that
    becomes ACTIVE; ``evaluate`` carries out ``evaluate`` actions.
    """
    run = _Run(
        plan=plan,
        client=client,
        journal=journal,
        datasets=datasets,
        reporter=reporter,
        options=options,
        clock=clock,
        gate=gate,
        evaluate=evaluate,
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
                    run.follow(action)
                else:
                    detail = "tuning started" if action.kind in CREATING_KINDS else "still tuning"
                    run.finish(ActionResult(action, Outcome.IN_FLIGHT, detail))
            if on_only_tuning is not None and run.tuning and not pending and not running:
                on_only_tuning()
                on_only_tuning = None
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


__all__ = [
    "ActionResult",
    "ApplyReport",
    "ExecutionOptions",
    "Outcome",
    "execute_plan",
    "stale_operation",
    "total_steps",
]
