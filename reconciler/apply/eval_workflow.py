"""``reconciler eval``: evaluate the ACTIVE managed models now, changing nothing.

Reads the manifests, the state and the live models (no lock: nothing is
written but the answer cache), picks each model's serving live model and
runs its evaluation through ``evaluating``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.apply.answer_cache import open_answer_cache
from reconciler.apply.evaluating import EvaluationProgress, run_evaluations
from reconciler.apply.refresh import gather
from reconciler.errors import UsageError
from reconciler.live import ACTIVE, LiveModel
from reconciler.providers import TuningProvider
from reconciler.scoring import EvaluationReport, EvaluationTarget
from reconciler.spec import DesiredModel, LoadedDataset
from reconciler.state.base import StateBackend


def evaluation_target(
    model: DesiredModel, *, live: LiveModel, datasets: Mapping[str, LoadedDataset]
) -> EvaluationTarget | None:
    """What evaluating ``live`` (a generation of ``model``) takes; None without an evaluation."""
    evaluation = model.evaluation
    if evaluation is None or evaluation.dataset.name not in datasets:
        return None
    return EvaluationTarget(
        model=model.name,
        live_name=live.name,
        update_time=live.update_time,
        evaluation=evaluation,
        dataset=datasets[evaluation.dataset.name],
    )


def eval_run(
    *,
    client: TuningProvider,
    backend: StateBackend,
    paths: Sequence[str],
    names: Sequence[str],
    parallelism: int,
    progress: EvaluationProgress | None = None,
    cache_root: Path | None = None,
) -> EvaluationReport:
    """Evaluate ``names`` (default: every managed model with an evaluation) as they serve now.

    A NAME that has no evaluation, is not managed or is not ACTIVE is a
    ``UsageError`` before any request; without NAMEs such models are
    reported as skipped.
    """
    desired, state, live_models = gather(client=client, backend=backend, paths=paths)
    live = {m.name: m for m in live_models}
    for name in names:
        if name not in desired.models:
            close = difflib.get_close_matches(name, sorted(desired.models), n=1)
            raise UsageError(
                f"no TunedModel named `{name}` in the manifests",
                hint=f"did you mean `{close[0]}`?" if close else None,
            )
        if desired.models[name].evaluation is None:
            raise UsageError(
                f"TunedModel/{name} has no evaluation",
                hint="add spec.evaluation to its manifest (an Evaluation name or an inline one)",
            )
    chosen = list(dict.fromkeys(names)) or sorted(
        n for n, m in desired.models.items() if m.evaluation is not None
    )
    report = EvaluationReport()
    targets: list[EvaluationTarget] = []
    for name in chosen:
        record = state.models.get(name)
        model = live.get(record.name) if record is not None else None
        reason = None
        if record is None or record.applied is None:
            reason = "not created yet (`reconciler apply` creates it)"
        elif model is None:
            reason = f"{record.name} is not live"
        elif model.state != ACTIVE:
            reason = f"{record.name} is {model.state}, not ACTIVE"
        if reason is not None or model is None:
            if names:
                raise UsageError(f"TunedModel/{name} cannot be evaluated: {reason}")
            report.skipped.append((name, reason or "not live"))
            continue
        target = evaluation_target(desired.models[name], live=model, datasets=desired.datasets)
        if target is not None:
            targets.append(target)
    cache = open_answer_cache(cache_root or Path.cwd())
    report.runs = run_evaluations(
        client=client,
        targets=targets,
        cache=cache,
        parallelism=parallelism,
        progress=progress,
    )
    return report
