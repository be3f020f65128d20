"""``reconciler wait``: follow in-flight tunings, then record how they ended.

Reads the state without the lock (waiting can take hours); takes it only to
record the models that finished.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.apply.conclusion import (
    Gate,
    conclude_tuning,
    followed_operation,
    no_gate,
    tuning_of,
)
from reconciler.apply.journal import StateJournal
from reconciler.apply.progress import Reporter
from reconciler.apply.refresh import Warn, locked
from reconciler.errors import UsageError
from reconciler.live import CREATING, LiveModel
from reconciler.providers import TuningProvider
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
    client: TuningProvider,
    backend: StateBackend,
    names: Sequence[str],
    timeout: float | None,
    reporter: Reporter,
    lock_timeout: float,
    warn: Warn,
    poll_interval: float = 1.0,
    gate: Gate = no_gate,
) -> WaitResult:
    """``reconciler wait``: follow in-flight tunings, then record how they ended.

    Each model that stopped tuning is concluded by ``conclude_tuning`` (with
    ``gate``), exactly as ``apply`` concludes the tunings it follows.
    """
    state = backend.read()
    for name in names:
        if name not in state.models:
            close = difflib.get_close_matches(name, sorted(state.models), n=1)
            raise UsageError(
                f"{name}: the state manages no such model",
                hint=f"did you mean `{close[0]}`?" if close else "see `reconciler state list`",
            )
    chosen = list(names) or sorted(n for n, r in state.models.items() if tuning_of(r))
    if not chosen:
        return WaitResult(models={}, failed={})
    by_live = {tuning_of(state.models[n]) or state.models[n].name: n for n in chosen}
    totals: dict[str, int] = {}
    for live_name, name in by_live.items():
        record = state.models[name]
        if record.candidate is not None and record.candidate.name == live_name:
            record = record.candidate
        spec = record.applied or record.pendingCreate
        if spec is not None and spec.dataset is not None and spec.dataset.examples:
            totals[live_name] = spec.hyperparameters.estimated_steps(spec.dataset.examples)
    for live_name, name in by_live.items():
        reporter.tuning(name, totals.get(live_name), live_name=live_name)
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
    # A model that is not live is left as it is: its record (an intent or an
    # applied spec) is what lets the next plan create or recreate it.
    finished = {n: m for n, m in models.items() if m.state != CREATING}
    for name, model in models.items():
        if model.state == CREATING:
            failed[name] = "still tuning at --timeout (the operation stays in state)"
    if finished:
        with locked(backend, command="wait", timeout=lock_timeout, warn=warn):
            journal = StateJournal(backend=backend, document=backend.read())
            for name, model in sorted(finished.items()):
                ended = conclude_tuning(
                    model=name,
                    live=model,
                    followed=followed_operation(state.models[name], model.name),
                    journal=journal,
                    client=client,
                    gate=gate,
                )
                if not ended.succeeded:
                    failed[name] = ended.message
    return WaitResult(models=models, failed=failed)
