"""The saved-plan format (``plan --out FILE``, ``apply FILE``). Pure: dicts in, dicts out.

The CLI writes ``plan_to_saved(...)`` as JSON and reads it back with
``plan_from_saved``. Before applying, ``check_saved_plan`` refuses a plan made
against a state or live models that have since changed, the way Terraform
refuses a stale plan file. A saved plan holds::

    {
      "formatVersion": 1,
      "kind": "reconciler.plan",
      "refreshOnly": false,
      "options": {"targets": [], "replace": []},   # --target / --replace it was made with
      "state": {"lineage": "…", "serial": 7},      # the state it was made from
      "manifestPaths": ["manifests/"],             # as given, relative to workingDirectory
      "workingDirectory": "/path/to/repo",         # where the plan was made (for messages)
      "datasets": {"increment-examples": "sha256:…"},
      "actions": [{"model", "address", "name", "action", "updateMask", "changes",
                   "reasons", "notes", "spec", "dependsOn", "estimatedSteps",
                   "preventDestroy", "dataset", "live": {"updateTime", "state"} | null,
                   "successor", "cleanup"}]
    }

It never holds a training example (datasets appear as name + hash + count) or
a credential: nothing in a ``Plan`` carries either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from reconciler.applied import StateDocument
from reconciler.diff import FieldChange
from reconciler.errors import PlanError, StalePlanError
from reconciler.live import LiveModel
from reconciler.plan import Action, ActionKind, Plan, PlanOptions
from reconciler.spec import AppliedSpec, DatasetRef

SAVED_PLAN_FORMAT_VERSION = 1
SAVED_PLAN_KIND = "reconciler.plan"


def json_value(value: object) -> object:
    """A field value as JSON: tuples become lists (readerProjectNumbers)."""
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    return value


def _python_value(value: object) -> object:
    if isinstance(value, list):
        return tuple(_python_value(v) for v in value)
    return value


def change_to_json(change: FieldChange) -> dict[str, object]:
    return {
        "path": change.path,
        "before": json_value(change.before),
        "after": json_value(change.after),
    }


@dataclass(frozen=True)
class SavedPlan:
    """A plan read back from a file, with what it was made from."""

    plan: Plan
    manifest_paths: tuple[str, ...]
    dataset_hashes: Mapping[str, str]  # Dataset name -> content hash, as planned
    working_directory: str | None = None  # where it was made; absent in older plan files
    # What it was planned with, so apply can plan again the same way and compare.
    options: PlanOptions = field(default_factory=PlanOptions)


def _dataset_hashes(plan: Plan) -> dict[str, str]:
    return {
        a.dataset.name: a.dataset.hash
        for a in plan.actions
        if a.dataset is not None and a.dataset.hash is not None
    }


def _action_to_saved(action: Action) -> dict[str, Any]:
    live = (
        None
        if action.live_state is None
        else {"updateTime": action.live_update_time, "state": action.live_state}
    )
    return {
        "model": action.model,
        "address": action.address,
        "name": action.name,
        "action": action.kind.value,
        "updateMask": list(action.update_mask),
        "changes": [change_to_json(c) for c in action.changes],
        "reasons": list(action.reasons),
        "notes": list(action.notes),
        "spec": action.spec.model_dump(mode="json") if action.spec else None,
        "dependsOn": action.depends_on,
        "estimatedSteps": action.estimated_steps,
        "preventDestroy": action.prevent_destroy,
        "dataset": action.dataset.model_dump(mode="json") if action.dataset else None,
        "live": live,
        "successor": action.successor,
        "cleanup": list(action.cleanup),
    }


def plan_to_saved(
    plan: Plan,
    *,
    manifest_paths: Sequence[str],
    working_directory: str | None = None,
    options: PlanOptions | None = None,
) -> dict[str, Any]:
    """The JSON-ready document ``plan --out`` writes.

    Manifest paths stay as the user gave them (relative ones resolve against the
    directory apply runs in, so a CI job can apply a plan made in another
    checkout); ``working_directory`` only lets apply say where the plan was made.
    """
    document: dict[str, Any] = {
        "formatVersion": SAVED_PLAN_FORMAT_VERSION,
        "kind": SAVED_PLAN_KIND,
        "refreshOnly": plan.refresh_only,
        "options": {
            "targets": sorted(options.targets) if options else [],
            "replace": sorted(options.replace) if options else [],
        },
        "state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "manifestPaths": list(manifest_paths),
        "datasets": _dataset_hashes(plan),
        "actions": [_action_to_saved(a) for a in plan.actions],
    }
    if working_directory is not None:
        document["workingDirectory"] = working_directory
    return document


def _action_from_saved(data: Mapping[str, Any]) -> Action:
    live = data.get("live")
    return Action(
        model=str(data["model"]),
        address=str(data["address"]),
        name=str(data["name"]),
        kind=ActionKind(data["action"]),
        update_mask=tuple(str(p) for p in data.get("updateMask", [])),
        changes=tuple(
            FieldChange(
                path=str(c["path"]),
                before=_python_value(c["before"]),
                after=_python_value(c["after"]),
            )
            for c in data.get("changes", [])
        ),
        reasons=tuple(str(r) for r in data.get("reasons", [])),
        notes=tuple(str(n) for n in data.get("notes", [])),
        spec=AppliedSpec.model_validate(data["spec"]) if data.get("spec") else None,
        depends_on=data.get("dependsOn"),
        estimated_steps=int(data.get("estimatedSteps", 0)),
        prevent_destroy=bool(data.get("preventDestroy", False)),
        dataset=DatasetRef.model_validate(data["dataset"]) if data.get("dataset") else None,
        live_update_time=live.get("updateTime") if live else None,
        live_state=live.get("state") if live else None,
        successor=str(data["successor"]) if data.get("successor") else None,
        cleanup=tuple(str(n) for n in data.get("cleanup", [])),
    )


def plan_from_saved(data: Mapping[str, Any]) -> SavedPlan:
    """Read a saved plan back; a foreign, newer or damaged document is a ``PlanError``."""
    if not isinstance(data, Mapping) or data.get("kind") != SAVED_PLAN_KIND:
        raise PlanError(
            'not a saved plan (no "kind": "reconciler.plan")',
            hint="make one with `reconciler plan --out FILE`",
        )
    version = data.get("formatVersion")
    if version != SAVED_PLAN_FORMAT_VERSION:
        raise PlanError(
            f"saved plan formatVersion {version!r} is not supported (this version reads {SAVED_PLAN_FORMAT_VERSION})",
            hint="make the plan again with this version of reconciler",
        )
    try:
        plan = Plan(
            actions=tuple(_action_from_saved(a) for a in data["actions"]),
            state_lineage=str(data["state"]["lineage"]),
            state_serial=int(data["state"]["serial"]),
            refresh_only=bool(data.get("refreshOnly", False)),
        )
        paths = tuple(str(p) for p in data.get("manifestPaths", []))
        hashes = {str(k): str(v) for k, v in dict(data.get("datasets", {})).items()}
        directory = data.get("workingDirectory")
        recorded = data.get("options") or {}
        options = PlanOptions(
            targets=frozenset(str(t) for t in recorded.get("targets", [])),
            replace=frozenset(str(r) for r in recorded.get("replace", [])),
            refresh_only=plan.refresh_only,
        )
    except (AttributeError, KeyError, TypeError, ValueError, ValidationError) as error:
        raise PlanError(
            f"saved plan is damaged: {error}",
            hint="make it again with `reconciler plan --out FILE`",
        ) from error
    return SavedPlan(
        plan=plan,
        manifest_paths=paths,
        dataset_hashes=hashes,
        working_directory=str(directory) if directory is not None else None,
        options=options,
    )


def _live_changes(action: Action, live: LiveModel | None) -> list[str]:
    """How the live model moved since planning. A ``wait`` only needs it to still exist:
    the tuning it waits for is expected to finish (CREATING -> ACTIVE) meanwhile."""
    if action.live_state is None:
        return [] if live is None else [f"{action.name} appeared (state {live.state})"]
    if live is None:
        return [f"{action.name} was deleted"]
    if action.kind is ActionKind.WAIT:
        return []
    found = []
    if live.state != action.live_state:
        found.append(f"{action.name} state changed from {action.live_state} to {live.state}")
    if live.update_time != action.live_update_time:
        found.append(
            f"{action.name} was modified (updateTime {action.live_update_time} -> {live.update_time})"
        )
    return found


def check_saved_plan(
    saved: SavedPlan,
    *,
    state: StateDocument,
    live: Sequence[LiveModel],
    dataset_hashes: Mapping[str, str],
) -> None:
    """Raise ``StalePlanError`` naming everything that changed since the plan was made.

    ``dataset_hashes`` are the current content hashes by Dataset name, from
    loading the plan's manifest paths again.
    """
    plan = saved.plan
    found: list[str] = []
    if state.lineage != plan.state_lineage:
        found.append(
            f"the state is a different one (lineage {plan.state_lineage} -> {state.lineage})"
        )
    elif state.serial != plan.state_serial:
        found.append(f"the state changed (serial {plan.state_serial} -> {state.serial})")
    by_name = {model.name: model for model in live}
    for action in plan.actions:
        found.extend(_live_changes(action, by_name.get(action.name)))
    for dataset, planned in sorted(saved.dataset_hashes.items()):
        now = dataset_hashes.get(dataset)
        if now is None:
            found.append(f"dataset {dataset} is no longer in the manifests")
        elif now != planned:
            found.append(f"dataset {dataset} changed ({planned} -> {now})")
    if found:
        raise StalePlanError(
            f"saved plan is stale: {'; '.join(found)}",
            hint="run `reconciler plan --out FILE` again and apply the new plan",
        )
