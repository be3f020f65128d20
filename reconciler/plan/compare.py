"""Is a saved plan exactly the plan its inputs give now? Pure.

A saved plan travels (a CI artifact, a file on a shared disk) between ``plan
--out`` and ``apply FILE``, so its actions are not trusted: apply plans again
from the same manifests, state and live models and carries out only a plan
whose every action matches the file's. ``first_difference`` names the first
action that does not, so the user sees what was changed in the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from reconciler.plan.actions import Action, ActionKind, Plan

# An action field, as the saved plan's JSON spells it. Everything apply acts on
# or records is compared; ``live_update_time`` and ``live_state`` are not: the
# stale-plan check has compared them with the live models already.
_FIELDS: tuple[tuple[str, str], ...] = (
    ("model", "model"),
    ("name", "name"),
    ("kind", "action"),
    ("update_mask", "updateMask"),
    ("changes", "changes"),
    ("spec", "spec"),
    ("dataset", "dataset"),
    ("depends_on", "dependsOn"),
    ("prevent_destroy", "preventDestroy"),
    ("estimated_steps", "estimatedSteps"),
    ("reasons", "reasons"),
    ("notes", "notes"),
)

# Longest rendering of a value in the message: the file may hold anything.
_SHOWN_MAX_CHARS = 120


def _shown(value: object) -> str:
    """A value as JSON, ASCII only (so no control character reaches a terminal), cut short."""
    text = json.dumps(_plain(value), ensure_ascii=True, sort_keys=True, default=str)
    return text if len(text) <= _SHOWN_MAX_CHARS else text[: _SHOWN_MAX_CHARS - 1] + "…"


def _label(address: str) -> str:
    """An address from the file, escaped as ``_shown`` does but without quotes."""
    text = json.dumps(address, ensure_ascii=True)[1:-1]
    return text if len(text) <= _SHOWN_MAX_CHARS else text[: _SHOWN_MAX_CHARS - 1] + "…"


def _plain(value: object) -> object:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, ActionKind):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def _first_path(before: object, after: object, path: str) -> tuple[str, object, object]:
    """The first nested key where two JSON-like values differ (for a readable spec diff)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after), key=str):
            if before.get(key) != after.get(key):
                return _first_path(before.get(key), after.get(key), f"{path}.{key}")
    return path, before, after


def _action_difference(saved: Action, now: Action) -> str | None:
    if saved.kind is ActionKind.WAIT and now.kind is ActionKind.NOOP and saved.name == now.name:
        return None  # the tuning the plan waited for has finished meanwhile: nothing to do
    for attribute, label in _FIELDS:
        in_file, expected = getattr(saved, attribute), getattr(now, attribute)
        if in_file == expected:
            continue
        path, in_file_shown, expected_shown = _first_path(_plain(in_file), _plain(expected), label)
        return (
            f"{_label(saved.address)}: {path} is {_shown(in_file_shown)} in the plan file "
            f"but {_shown(expected_shown)} when planned now"
        )
    return None


def first_difference(saved: Plan, now: Plan) -> str | None:
    """How ``saved`` differs from ``now`` (the first difference found), or None if it does not.

    Actions are matched by address; one in only one of the plans, or twice in
    the file, is a difference. Their order is not compared: apply carries out
    ``now``, whose order comes from the dependencies.
    """
    if saved.refresh_only != now.refresh_only:
        return f"refreshOnly is {_shown(saved.refresh_only)} in the plan file"
    current = {action.address: action for action in now.actions}
    seen: set[str] = set()
    for action in saved.actions:
        if action.address in seen:
            return f"{_label(action.address)} appears more than once in the plan file"
        seen.add(action.address)
        match = current.get(action.address)
        if match is None:
            return (
                f"{_label(action.address)}: the plan file has a {_shown(action.kind)} action "
                "that is not planned now"
            )
        difference = _action_difference(action, match)
        if difference is not None:
            return difference
    for action in now.actions:
        if action.address not in seen:
            return (
                f"{_label(action.address)}: a {_shown(action.kind)} action is planned now "
                "but missing from the plan file"
            )
    return None
