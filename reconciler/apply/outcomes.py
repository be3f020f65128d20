"""What an apply reports per action, and the options it runs with. Pure values.

Kept apart from the executor so the reporter, the workflows and the CLI can
name outcomes without importing the machinery that produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.applied import ModelRecord
from reconciler.live import CREATING
from reconciler.plan import Action, ActionKind
from reconciler.spec import AppliedSpec


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
    # A replace that deleted the old model before it failed: counted as deleted.
    deleted_old: bool = False


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
    """True when state still names an operation for a model that is live and done tuning.

    A noop, or a noop turned ``evaluate`` (an ACTIVE model whose evaluation is
    due): a run that ended before it saw the tuning end left the operation.
    """
    return (
        action.kind in (ActionKind.NOOP, ActionKind.EVALUATE)
        and record.operation is not None
        and action.live_state not in (None, CREATING)
    )


def accepted_values(action: Action, record: ModelRecord) -> bool:
    """True when a noop model's record still holds values the manifests no longer have.

    A change made outside the reconciler and then accepted by writing the same
    value into the manifest plans as noop (manifest == live), but the state
    still records the old value, so refresh-only plans would report drift for
    ever. Apply records the plan's spec (the manifest's mutable fields on the
    applied inputs) for such a model.
    """
    return (
        action.kind is ActionKind.NOOP
        and action.spec is not None
        and record.applied is not None
        and record.applied != action.spec
    )


def abandoned_replacement(action: Action, record: ModelRecord) -> bool:
    """True when a live, unchanged model's record still holds a replace that never began.

    A replace is recorded before its delete is sent; a run stopped right there
    leaves the old model live. If the manifests meanwhile went back to what is
    applied, the plan is a noop and the recorded intent is obsolete.
    """
    return (
        action.kind is ActionKind.NOOP
        and action.live_state is not None
        and record.applied is not None
        and (record.replacing or record.pendingCreate is not None)
    )


def total_steps(spec: AppliedSpec | None) -> int | None:
    if spec is None or spec.dataset is None or not spec.dataset.examples:
        return None
    return spec.hyperparameters.estimated_steps(spec.dataset.examples)
