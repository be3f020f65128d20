"""``reconciler destroy``: the plan that deletes every managed model (or the targets). Pure."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace

from reconciler.applied import StateDocument
from reconciler.errors import PlanError
from reconciler.live import LiveModel
from reconciler.plan import ActionKind, Plan, PlanOptions, make_plan
from reconciler.spec import DesiredState


def destroy_plan(
    *, desired: DesiredState, live: Sequence[LiveModel], state: StateDocument, options: PlanOptions
) -> Plan:
    """Delete every managed model (or the targets): plan as if their manifests were removed."""
    targets = options.targets or frozenset(state.models)
    unknown = sorted(t for t in targets if t not in state.models)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(state.models), n=1)
        raise PlanError(
            f"--target {unknown[0]}: the state manages no such model",
            hint=f"did you mean `{close[0]}`?" if close else "see `reconciler state list`",
        )
    protected = [
        name
        for name in sorted(targets)
        if name in desired.models and desired.models[name].lifecycle.prevent_destroy
    ]
    if protected:
        raise PlanError(
            "lifecycle.preventDestroy forbids destroying " + ", ".join(protected),
            hint="set preventDestroy: false and apply first, or leave these out with --target",
        )
    # Models tuned from a destroyed one go too (they are deleted first), unless kept by the plan.
    kept = {name: model for name, model in desired.models.items() if name not in targets}
    remaining = DesiredState(models=kept, datasets=desired.datasets)
    plan = make_plan(
        desired=remaining,
        live=live,
        state=state,
        options=PlanOptions(targets=frozenset(targets)),
    )
    return Plan(
        actions=tuple(
            replace(a, reasons=("destroy requested",))
            for a in plan.actions
            if a.kind is ActionKind.DELETE
        ),
        state_lineage=plan.state_lineage,
        state_serial=plan.state_serial,
    )
