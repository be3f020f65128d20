"""What a plan's actions mean on the backend it was made for. Pure.

On a backend where a tuning is a job plus the model it produces
(``Capabilities.job_and_model``), every create is a new billed job, and a
delete removes what the API allows (the model and its endpoint, or the
running job) while the job's record stays. The plan says so on each action,
so a reviewer knows the cost before the apply.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.capabilities import Capabilities
from reconciler.plan.actions import CREATING_KINDS, Action, ActionKind, Plan

NOTE_NEW_JOB = "a new billed tuning job"
NOTE_DELETES_RUNNING = "cancels its running tuning job; the job's record stays"
NOTE_DELETES_MODEL = (
    "undeploys and deletes the tuned model and its endpoint; the job's record stays"
)
NOTE_DELETES_NOTHING = "nothing to delete: the failed job's record stays"


def _noted(action: Action) -> Action:
    extra: tuple[str, ...] = ()
    if action.kind in CREATING_KINDS:
        extra = (NOTE_NEW_JOB,)
    elif action.kind is ActionKind.DELETE:
        if action.live_state == "CREATING":
            extra = (NOTE_DELETES_RUNNING,)
        elif action.live_state == "ACTIVE":
            extra = (NOTE_DELETES_MODEL,)
        elif action.live_state == "FAILED":
            extra = (NOTE_DELETES_NOTHING,)
    return replace(action, notes=(*action.notes, *extra)) if extra else action


def for_backend(plan: Plan, capabilities: Capabilities, *, target: str) -> Plan:
    """``plan`` naming its backend and target, with the notes above where they apply."""
    actions = plan.actions
    if capabilities.job_and_model:
        actions = tuple(_noted(action) for action in actions)
    return replace(plan, actions=actions, backend=capabilities.backend, target=target)
