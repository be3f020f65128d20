"""Can every create of a plan succeed? Checked before anything is deleted or created. Pure.

A replace deletes before it creates (or, with createBeforeDestroy, tunes a
successor for hours): a successor that cannot be created must be found at plan
time, not after the serving model is gone. The facts come from the API
(gathered by ``reconciler.apply``, one request per distinct base or source
model at most); this module only decides:

* a ``baseModel`` must exist and list ``createTunedModel`` among its
  ``supportedGenerationMethods``;
* a ``tunedModelSource`` must exist and be ACTIVE, or be created (or still
  tuning, to be followed) earlier in the same plan.

``preflight_needs`` says which facts a plan needs; ``preflight_errors`` turns
the facts into one message per model that cannot be created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.errors import PlanError
from reconciler.live import ACTIVE, LiveModel
from reconciler.plan.actions import CREATING_KINDS, Action, ActionKind, Plan

# The kinds that bring a model up in this plan: a source handled by one of them
# is available (ACTIVE, or followed until it is) before its dependants run.
_MADE_IN_PLAN = frozenset({*CREATING_KINDS, ActionKind.WAIT})


@dataclass(frozen=True)
class BaseModelFacts:
    """What the API said about a base model: ``exists`` False for a 404."""

    exists: bool
    tunable: bool = False


@dataclass(frozen=True)
class PreflightFacts:
    """The API's answers a plan's preflight needs.

    ``base_models``: by ``models/...`` name. ``sources``: tuned models named as
    a ``tunedModelSource`` that the listing did not show, by
    ``tunedModels/...`` name (None: not found).
    """

    base_models: Mapping[str, BaseModelFacts] = field(default_factory=dict)
    sources: Mapping[str, LiveModel | None] = field(default_factory=dict)


@dataclass(frozen=True)
class PreflightNeeds:
    base_models: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.base_models or self.sources)


def _creates(plan: Plan) -> list[Action]:
    return [a for a in plan.actions if a.kind in CREATING_KINDS and a.spec is not None]


def _source(action: Action, by_model: Mapping[str, Action]) -> str | None:
    """The live name ``action``'s create will be tuned from; None when nothing is to be
    checked (a base model, or a managed source brought up earlier in the same plan).

    A managed source is named by the generation serving it (createBeforeDestroy
    moves it to ``tunedModels/<name>-<n>``).
    """
    assert action.spec is not None
    parent = by_model.get(action.depends_on) if action.depends_on else None
    if parent is not None:
        return None if parent.kind in _MADE_IN_PLAN else parent.name
    return action.spec.tunedModelSource


def preflight_needs(plan: Plan, live: Sequence[LiveModel]) -> PreflightNeeds:
    """The base models, and the sources missing from the listing, that the plan's creates use."""
    listed = {model.name for model in live}
    by_model = {a.model: a for a in plan.actions}
    bases: set[str] = set()
    sources: set[str] = set()
    for action in _creates(plan):
        assert action.spec is not None
        if action.spec.baseModel:
            bases.add(action.spec.baseModel)
        source = _source(action, by_model)
        if source and source not in listed:
            sources.add(source)
    return PreflightNeeds(base_models=tuple(sorted(bases)), sources=tuple(sorted(sources)))


def preflight_errors(plan: Plan, live: Sequence[LiveModel], facts: PreflightFacts) -> list[str]:
    """One message per create of ``plan`` that cannot succeed, naming the model and why.

    A base model or source the facts do not mention is not judged.
    """
    listed = {model.name: model for model in live}
    listed.update({n: m for n, m in facts.sources.items() if m is not None})
    by_model = {a.model: a for a in plan.actions}
    errors: list[str] = []
    for action in _creates(plan):
        assert action.spec is not None
        base = action.spec.baseModel
        if base and base in facts.base_models:
            known = facts.base_models[base]
            if not known.exists:
                errors.append(f"{action.address}: base model {base} does not exist")
            elif not known.tunable:
                errors.append(
                    f"{action.address}: base model {base} cannot be tuned"
                    " (its supportedGenerationMethods lack createTunedModel)"
                )
        source = _source(action, by_model)
        if not source:
            continue
        found = listed.get(source)
        if found is None:
            if source in facts.sources:  # looked up, and not found
                errors.append(f"{action.address}: source model {source} does not exist")
            continue  # otherwise not looked up: not judged
        if found.state != ACTIVE:
            errors.append(f"{action.address}: source model {source} is {found.state}, not ACTIVE")
    return errors


def check_preflight(plan: Plan, live: Sequence[LiveModel], facts: PreflightFacts) -> None:
    """PlanError naming every create of ``plan`` that cannot succeed (all in one message)."""
    errors = preflight_errors(plan, live, facts)
    if not errors:
        return
    head = (
        "a create cannot succeed" if len(errors) == 1 else f"{len(errors)} creates cannot succeed"
    )
    raise PlanError(
        f"{head}, so nothing is changed: {'; '.join(errors)}",
        hint="fix baseModel / tunedModelSource in the manifests: a base model must accept "
        "tuning, a source must exist and be ACTIVE (or be created by the same plan)",
    )
