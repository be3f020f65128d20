"""Evaluations inside apply and wait: the gate after a tuning, and the ``evaluate`` action.

``EvaluationGate`` holds what evaluating a managed model takes (the desired
state, the client, the answer cache) and records each result on the model's
state record under ``evaluations[<live name>]``: the last evaluation of each
generation.

* ``gate(model, live)`` is the gate ``conclude_tuning`` runs when a created
  or replaced model becomes ACTIVE. A model below a threshold of an
  evaluation with ``gate: true`` does not pass: the conclusion marks it as
  failing (its ``lastError`` names the metric), apply exits 1, and models
  tuned from it are not created. An evaluation that cannot run (a request
  failed after its retries) does not pass either: nothing unverified is
  promoted.
* ``evaluate(action)`` carries out a plan's ``evaluate`` action: it changes
  no model, runs the evaluation of the serving model and records it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler.applied import EvaluationRecord, ModelRecord
from reconciler.apply.answer_cache import AnswerCache, open_answer_cache
from reconciler.apply.conclusion import Gate, GateResult, no_gate
from reconciler.apply.eval_workflow import evaluation_target
from reconciler.apply.evaluating import EvaluationProgress, run_evaluations
from reconciler.apply.journal import StateJournal
from reconciler.apply.outcomes import ActionResult, Outcome
from reconciler.apply.refresh import load_desired
from reconciler.errors import NotFoundError
from reconciler.live import ACTIVE, LiveModel
from reconciler.plan import Action
from reconciler.providers import TuningProvider
from reconciler.scoring import ModelEvaluation, describe_failure
from reconciler.spec import DesiredState
from reconciler.state.base import StateBackend

DEFAULT_MANIFESTS = "manifests"


def failure_detail(run: ModelEvaluation) -> str:
    """``evaluation increment-check below threshold: exactMatch 0.50 < 0.90``, or why it did not run."""
    name = run.target.evaluation.name
    if run.record is None:
        return f"evaluation {name} could not run: {run.error}"
    return f"evaluation {name} below threshold: {describe_failure(run.record)}"


class EvaluationGate:
    """Runs managed models' evaluations for apply and wait, and records the results."""

    def __init__(
        self,
        *,
        client: TuningProvider,
        desired: DesiredState,
        record_of: Callable[[str], ModelRecord | None],
        parallelism: int = 8,
        cache: AnswerCache | None = None,
        progress: EvaluationProgress | None = None,
        cache_root: Path | None = None,
    ) -> None:
        self.client = client
        self.desired = desired
        self.record_of = record_of
        self.parallelism = parallelism
        self.cache = cache if cache is not None else open_answer_cache(cache_root or Path.cwd())
        self.progress = progress

    def run(self, model: str, live: LiveModel) -> ModelEvaluation | None:
        desired = self.desired.models.get(model)
        if desired is None:
            return None
        target = evaluation_target(desired, live=live, datasets=self.desired.datasets)
        if target is None:
            return None
        [run] = run_evaluations(
            client=self.client,
            targets=[target],
            cache=self.cache,
            parallelism=self.parallelism,
            progress=self.progress,
        )
        return run

    def _evaluations(
        self, model: str, live_name: str, result: EvaluationRecord
    ) -> dict[str, EvaluationRecord]:
        record = self.record_of(model)
        evaluations = dict(record.evaluations) if record is not None else {}
        evaluations[live_name] = result
        return evaluations

    def gate(self, model: str, live: LiveModel) -> GateResult:
        """The gate of ``conclude_tuning``: evaluate the model that just became ACTIVE."""
        run = self.run(model, live)
        if run is None:
            return GateResult(passed=True)
        if run.record is None:
            return GateResult(passed=False, detail=failure_detail(run))
        record = {"evaluations": self._evaluations(model, live.name, run.record)}
        if run.record.passed:
            summary = f"evaluation {run.record.evaluation} passed"
            return GateResult(passed=True, record=record, summary=summary)
        if not run.record.gate:
            summary = (
                f"evaluation {run.record.evaluation} below a threshold (gate: false, reported only)"
            )
            return GateResult(passed=True, record=record, summary=summary)
        return GateResult(passed=False, detail=failure_detail(run), record=record)

    def evaluate(self, action: Action, journal: StateJournal) -> ActionResult:
        """A plan's ``evaluate`` action: evaluate the serving model, record it, change no model."""
        journal.ensure_held()
        try:
            live = self.client.get_tuned_model(action.name)
        except NotFoundError:
            return ActionResult(action, Outcome.FAILED, f"{action.name} is not live")
        if live.state != ACTIVE:
            return ActionResult(action, Outcome.FAILED, f"{action.name} is {live.state}")
        run = self.run(action.model, live)
        if run is None:
            return ActionResult(action, Outcome.FAILED, "its evaluation is not in the manifests")
        if run.record is None:
            return ActionResult(action, Outcome.FAILED, failure_detail(run))
        record = journal.record(action.model)
        if record is not None:
            changes: dict[str, object] = {
                "evaluations": self._evaluations(action.model, live.name, run.record)
            }
            passed = run.record.passed or not run.record.gate
            if run.record.passed and record.failed_gate() is not None:
                changes["lastError"] = None
            elif not passed:
                changes["lastError"] = failure_detail(run)
            journal.put(action.model, record.model_copy(update=changes))
        if run.record.passed:
            return ActionResult(action, Outcome.SUCCEEDED, "evaluation passed")
        if not run.record.gate:
            return ActionResult(
                action,
                Outcome.SUCCEEDED,
                f"below a threshold ({describe_failure(run.record)}); gate: false, reported only",
            )
        return ActionResult(action, Outcome.FAILED, failure_detail(run))


def gate_for_wait(
    *, client: TuningProvider, backend: StateBackend, paths: Sequence[str] | None
) -> Gate:
    """The gate of ``reconciler wait``: the evaluations of the manifests at ``paths``.

    ``paths`` None: ``manifests/`` if it exists (wait is usually run where
    apply was), else no evaluations are known and every model passes. The
    manifests are loaded before waiting, so an error in them is reported at once.
    """
    if paths is None:
        if not Path(DEFAULT_MANIFESTS).exists():
            return no_gate
        paths = (DEFAULT_MANIFESTS,)
    desired = load_desired(paths, backend=client.capabilities.backend)
    if not any(model.evaluation for model in desired.models.values()):
        return no_gate
    return EvaluationGate(
        client=client,
        desired=desired,
        record_of=lambda name: backend.read().models.get(name),
    ).gate
