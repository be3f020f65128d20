"""Plan, then ask the API whether every create of the plan can succeed.

The questions (``preflight_needs``) and the verdict (``check_preflight``) are
pure and live in ``reconciler.plan``; this module only asks: one request per
distinct base model a create uses, and one per source model the listing did
not show, sent together.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from reconciler.applied import StateDocument
from reconciler.errors import NotFoundError
from reconciler.live import LiveModel
from reconciler.plan import (
    BaseModelFacts,
    Plan,
    PlanOptions,
    PreflightFacts,
    PreflightNeeds,
    check_preflight,
    make_plan,
    preflight_needs,
)
from reconciler.plan.backend_notes import for_backend
from reconciler.providers import TuningProvider
from reconciler.spec import DesiredState

# Distinct base and source models are few; this bounds the requests in flight.
MAX_PARALLEL_LOOKUPS = 8


def _base_model(client: TuningProvider, name: str) -> BaseModelFacts:
    try:
        return BaseModelFacts(exists=True, tunable=client.get_base_model(name).tunable)
    except NotFoundError:
        return BaseModelFacts(exists=False)


def _source(client: TuningProvider, name: str) -> LiveModel | None:
    try:
        return client.get_tuned_model(name)
    except NotFoundError:
        return None


def gather_preflight(client: TuningProvider, needs: PreflightNeeds) -> PreflightFacts:
    """The API's answers to ``needs``; any error other than 404 propagates."""
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_LOOKUPS) as pool:
        bases = {n: pool.submit(_base_model, client, n) for n in needs.base_models}
        sources = {n: pool.submit(_source, client, n) for n in needs.sources}
        return PreflightFacts(
            base_models={n: f.result() for n, f in bases.items()},
            sources={n: f.result() for n, f in sources.items()},
        )


def preflight(client: TuningProvider, plan: Plan, live: Sequence[LiveModel]) -> None:
    """PlanError when a create of ``plan`` cannot succeed (asks the API only if there are creates)."""
    needs = preflight_needs(plan, live)
    if needs:
        check_preflight(plan, live, gather_preflight(client, needs))


def checked_plan(
    *,
    client: TuningProvider,
    desired: DesiredState,
    live: Sequence[LiveModel],
    state: StateDocument,
    options: PlanOptions,
) -> Plan:
    """``make_plan``, then the preflight of its creates; named for ``client``'s backend."""
    plan = make_plan(desired=desired, live=live, state=state, options=options)
    preflight(client, plan, live)
    return on_backend(client, plan)


def on_backend(client: TuningProvider, plan: Plan) -> Plan:
    """``plan`` naming ``client``'s backend, with what its actions mean there.

    Every plan apply carries out or compares goes through here: a plan saved
    by ``plan --out`` and the same plan made again must be alike.
    """
    return for_backend(plan, client.capabilities, target=client.target)
