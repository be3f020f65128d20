"""Which models a plan covers (``--target``) and in what order its actions run. Pure.

Order follows the ``tunedModelSource`` dependencies: deletes first, children
before parents; then everything else, parents before children.
"""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable, Mapping

from reconciler.applied import StateDocument
from reconciler.errors import PlanError
from reconciler.plan.actions import Action, ActionKind, PlanOptions
from reconciler.spec import DesiredState


def unknown_name_error(flag: str, name: str, known: Iterable[str]) -> PlanError:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"did you mean `{close[0]}`?" if close else "names are the manifests' metadata.name"
    return PlanError(f"{flag} {name}: no such model in the manifests or the state", hint=hint)


def parent_of(name: str, desired: DesiredState, state: StateDocument) -> str | None:
    """The managed model ``name`` is tuned from, by manifest or (if removed) by record."""
    if name in desired.models:
        return desired.models[name].depends_on
    record = state.models.get(name)
    basis = (record.applied or record.pendingCreate) if record else None
    if basis is not None and basis.tunedModelSource is not None:
        source = basis.tunedModelSource.removeprefix("tunedModels/")
        return source if source in state.models or source in desired.models else None
    return None


def selected(desired: DesiredState, state: StateDocument, options: PlanOptions) -> list[str]:
    """Model names in scope: all, or the targets plus what they are tuned from."""
    known = set(desired.models) | set(state.models)
    if not options.targets:
        return sorted(known)
    for target in sorted(options.targets):
        if target not in known:
            raise unknown_name_error("--target", target, known)
    chosen: set[str] = set()
    for target in options.targets:
        current: str | None = target
        while current is not None and current not in chosen:
            chosen.add(current)
            current = parent_of(current, desired, state)
    return sorted(chosen)


def _dependency_order(names: Iterable[str], parents: Mapping[str, str | None]) -> list[str]:
    """Parents before children; Kahn's algorithm, smallest name first among the ready ones,
    so the order is stable and reads alphabetically where dependencies do not decide it."""
    pending = set(names)
    children: dict[str, list[str]] = {}
    indegree: dict[str, int] = {}
    for name in pending:
        parent = parents.get(name)
        if parent is not None and parent in pending:
            children.setdefault(parent, []).append(name)
            indegree[name] = indegree.get(name, 0) + 1
    ready = sorted(n for n in pending if n not in indegree)
    if not indegree:  # no dependencies among them (the common case): alphabetical
        return ready
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        current = heapq.heappop(ready)
        order.append(current)
        for child in children.get(current, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(pending):
        cycle = sorted(pending - set(order))
        raise PlanError(f"tunedModelSource dependency cycle between {', '.join(cycle)}")
    return order


def execution_order(actions: list[Action], parents: Mapping[str, str | None]) -> tuple[Action, ...]:
    """Deletes first, children before parents; then the rest, parents before children."""
    rank = {
        name: i for i, name in enumerate(_dependency_order((a.model for a in actions), parents))
    }
    deletes = sorted(
        (a for a in actions if a.kind is ActionKind.DELETE), key=lambda a: -rank[a.model]
    )
    others = sorted(
        (a for a in actions if a.kind is not ActionKind.DELETE), key=lambda a: rank[a.model]
    )
    return (*deletes, *others)


def planned_order_for_execution(planned: list[Action]) -> tuple[Action, ...]:
    """``execution_order`` of actions already in ``topological`` order (one per model).

    The same order without ranking and sorting them again: the deletes
    reversed (children before parents), then the rest as planned.
    """
    deletes = [a for a in reversed(planned) if a.kind is ActionKind.DELETE]
    if not deletes:
        return tuple(planned)
    return (*deletes, *(a for a in planned if a.kind is not ActionKind.DELETE))


def topological(names: list[str], parents: Mapping[str, str | None]) -> list[str]:
    """``names`` with parents before children (the order models are planned in)."""
    return _dependency_order(names, parents)
