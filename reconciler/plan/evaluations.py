"""The ``evaluate`` action: a model whose evaluation is due is evaluated, and nothing else. Pure.

An evaluation is due on a model the plan otherwise leaves alone (``noop``,
also an interrupted create adopted now: its gate never ran) and that is
ACTIVE, when the state has no evaluation of its serving live model, or the last one ran a different evaluation (another dataset, request,
metric, threshold or gate: ``DesiredEvaluation.hash``). A model being
created, replaced or updated is not: a new model is evaluated by the gate
when its tuning ends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from reconciler.applied import StateDocument
from reconciler.live import ACTIVE
from reconciler.plan.actions import Action, ActionKind
from reconciler.spec import DesiredState


def with_evaluations(
    actions: Sequence[Action], *, desired: DesiredState, state: StateDocument
) -> list[Action]:
    """``actions`` with every noop whose evaluation is due turned into ``evaluate``."""
    if all(model.evaluation is None for model in desired.models.values()):
        return list(actions)  # nothing is ever due (most plans)
    return [_evaluate_if_due(action, desired=desired, state=state) for action in actions]


def _evaluate_if_due(action: Action, *, desired: DesiredState, state: StateDocument) -> Action:
    if action.kind is not ActionKind.NOOP or action.live_state != ACTIVE:
        return action
    model = desired.models.get(action.model)
    record = state.models.get(action.model)
    if model is None or model.evaluation is None or record is None:
        return action
    if record.applied is None and record.pendingCreate is None:
        return action  # no history at all: nothing was ever applied or started here
    evaluation = model.evaluation
    last = record.evaluations.get(record.name)
    if last is None:
        reason = f"evaluation {evaluation.name} has not run on {record.name}"
    elif last.evaluationHash != evaluation.hash:
        reason = f"evaluation {evaluation.name} changed"
    else:
        return action
    return dataclasses.replace(action, kind=ActionKind.EVALUATE, reasons=(reason,))
