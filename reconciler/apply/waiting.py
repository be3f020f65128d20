"""``reconciler wait``: follow in-flight tunings, then record how they ended.

Reads the state without the lock (waiting can take hours); takes it only to
record the models that finished.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.api import GeminiClient
from reconciler.apply.journal import StateJournal
from reconciler.apply.outcomes import tuning_failure
from reconciler.apply.progress import Reporter
from reconciler.apply.refresh import Warn, locked
from reconciler.errors import ReconcilerError, UsageError
from reconciler.live import ACTIVE, CREATING, DELETED, LiveModel
from reconciler.state.base import StateBackend


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
        elif model.state == DELETED:
            failed[name] = (
                "its create never reached the API (an interrupted apply); `reconciler apply` creates it"
                if state.models[name].applied is None
                else "deleted outside the reconciler; `reconciler apply` recreates it"
            )
        elif model.state != ACTIVE:
            failed[name] = f"{model.state.lower()}"
    _record_wait(
        backend=backend,
        client=client,
        models=models,
        followed={name: state.models[name].operation for name in models},
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
    followed: dict[str, str | None],
    lock_timeout: float,
    warn: Warn,
    failed: dict[str, str],
) -> None:
    # A model that is not live is left as it is: its record (an intent or an
    # applied spec) is what lets the next plan create or recreate it. A record
    # whose operation changed while we waited (another command concluded,
    # replaced or adopted it) is that command's to keep, as in ``apply``.
    finished = {n: m for n, m in models.items() if m.state not in (CREATING, DELETED)}
    if not finished:
        return
    with locked(backend, command="wait", timeout=lock_timeout, warn=warn):
        state = backend.read()
        journal = StateJournal(backend=backend, document=state)
        for name, model in finished.items():
            record = state.models.get(name)
            if record is None or record.operation != followed.get(name):
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
                        message = tuning_failure(operation.error_message)
                except ReconcilerError:
                    pass
                changes["lastError"] = message
                failed[name] = message
            journal.put(name, record.model_copy(update=changes))
