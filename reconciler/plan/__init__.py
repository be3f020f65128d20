"""The planner: desired state + live models + state file -> ordered actions. Pure.

``make_plan`` is a purely computational function with no side-effects: no
clock, no network, no files. ``reconciler plan`` prints its result and
``reconciler apply`` carries the very same actions out.

Action kinds (PRODUCT.md "Plan semantics"):

* ``create``   -- in the manifests, not in state, not live; also a write-ahead
  ``pendingCreate`` whose model never reached the API.
* ``update``   -- a mutable field differs between manifest and live; the PATCH
  carries exactly ``update_mask`` (``lifecycle.ignoreChanges`` excluded).
* ``replace``  -- an immutable input changed (every one is a reason), the live
  model is FAILED, ``--replace NAME``, or the source model is replaced:
  delete, then create with the same id.
* ``recreate`` -- in state, deleted outside the reconciler.
* ``delete``   -- in state, no longer in the manifests. A model the state does
  not manage is never deleted.
* ``wait``     -- a create is still in flight (CREATING): no second create.
* ``evaluate`` -- the model's evaluation changed, or never ran on the serving
  model: run it, change no model (``evaluations``).
* ``noop``     -- nothing differs; reported, not skipped.

Refresh-only plans (``--refresh-only``) do not look at what the manifests
want. They report drift between the state and the live models, reusing the
same kinds so the JSON shape stays the same, with ``Plan.refresh_only`` set:
``recreate`` (a managed model deleted out of band), ``replace`` (a managed
model is FAILED) and ``update`` (a mutable field changed out of band;
``before`` is the applied value, ``after`` the live one). Every other managed
model is a ``noop`` (in-flight ones too, with a note). ``Plan.has_changes`` is
then "there is drift", which is what ``--detailed-exitcode`` reports.

Conflicts (an unmanaged live model with a manifest's id, ``preventDestroy``
on a model the plan would delete or replace) are collected and raised
together as one ``PlanError``.

Layout: ``actions`` (the values), ``ordering`` (scope and execution order),
``planner`` (the per-model rules).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.applied import StateDocument
from reconciler.live import LiveModel
from reconciler.plan.actions import (
    CREATING_KINDS,
    NOTE_ADOPT,
    NOTE_IN_FLIGHT,
    NOTE_NOT_LIVE,
    NOTE_UNKNOWN_DATA,
    REASON_FAILED,
    REASON_FORCED,
    REASON_INTERRUPTED,
    REASON_INTERRUPTED_DELETE,
    REASON_NEW,
    REASON_OUT_OF_BAND,
    REASON_REMOVED,
    REASON_REPLACEMENT_INTERRUPTED,
    TITLES,
    Action,
    ActionKind,
    Plan,
    PlanOptions,
)
from reconciler.plan.planner import Planner
from reconciler.plan.preflight import (
    BaseModelFacts,
    PreflightFacts,
    PreflightNeeds,
    check_preflight,
    preflight_needs,
)
from reconciler.spec import DesiredState


def make_plan(
    *,
    desired: DesiredState,
    live: Sequence[LiveModel],
    state: StateDocument,
    options: PlanOptions,
    preflight: PreflightFacts | None = None,
) -> Plan:
    """Compare manifests, live models and state; return the ordered actions.

    This is a purely computational function with no side-effects. Raises
    ``PlanError`` for unknown ``--target``/``--replace`` names and for every
    conflict found (all of them in one message). With ``preflight`` (the API's
    answers about the base and source models, see ``preflight_needs``), a
    create that cannot succeed is a ``PlanError`` too.
    """
    plan = Planner(desired=desired, live=live, state=state, options=options).run()
    if preflight is not None:
        check_preflight(plan, live, preflight)
    return plan


__all__ = [
    "CREATING_KINDS",
    "NOTE_ADOPT",
    "NOTE_IN_FLIGHT",
    "NOTE_NOT_LIVE",
    "NOTE_UNKNOWN_DATA",
    "REASON_FAILED",
    "REASON_FORCED",
    "REASON_INTERRUPTED",
    "REASON_INTERRUPTED_DELETE",
    "REASON_NEW",
    "REASON_OUT_OF_BAND",
    "REASON_REMOVED",
    "REASON_REPLACEMENT_INTERRUPTED",
    "TITLES",
    "Action",
    "ActionKind",
    "BaseModelFacts",
    "Plan",
    "PlanOptions",
    "PreflightFacts",
    "PreflightNeeds",
    "check_preflight",
    "make_plan",
    "preflight_needs",
]
