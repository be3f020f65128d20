"""A plan as text (Terraform-like), JSON (PRODUCT.md shape) or markdown (pull-request comment).

Styling only: every decision was made by ``reconciler.plan``.

The summary line counts a ``recreate`` as a create (a new model is made; the
plan lists it as ``+ recreate`` with its reason) and adds ``N to wait`` only
when a tuning is in flight, so the common line is exactly Terraform's shape:
``Plan: 2 to create, 1 to update, 0 to replace, 1 to delete.``
"""

from __future__ import annotations

import html
import json

from reconciler.diff import FieldChange
from reconciler.jsontext import pretty
from reconciler.plan import CREATING_KINDS, Action, ActionKind, Plan
from reconciler.planfile import change_to_json, json_value
from reconciler.render.escape import printable
from reconciler.spec import MUTABLE_FIELDS

JSON_FORMAT_VERSION = 1
NO_CHANGES = "No changes. Live models match the manifests."
NO_DRIFT = "No drift. Live models match the state."

# ANSI SGR colours per kind: the usual Terraform palette.
_COLORS: dict[ActionKind, str] = {
    ActionKind.CREATE: "32",
    ActionKind.RECREATE: "32",
    ActionKind.UPDATE: "33",
    ActionKind.REPLACE: "35",
    ActionKind.DELETE: "31",
    ActionKind.WAIT: "36",
    ActionKind.EVALUATE: "34",
    ActionKind.NOOP: "2",
}


# A refresh-only plan reports what happened outside the reconciler; the kinds
# it reuses (JSON stays the same) read as what was found, not as actions.
_DRIFT_TITLES: dict[ActionKind, str] = {
    ActionKind.UPDATE: "~ changed outside",
    ActionKind.RECREATE: "- deleted outside",
    ActionKind.REPLACE: "! failed",
}


def title(plan: Plan, action: Action) -> str:
    """How an action is named to people: Terraform's words, or drift's in a refresh-only plan."""
    if plan.refresh_only:
        return _DRIFT_TITLES.get(action.kind, action.title)
    return action.title


BACKEND_NAMES = {"gemini": "Gemini API tunedModels", "vertex": "Vertex AI tuningJobs"}


def backend_line(plan: Plan) -> str:
    """``Vertex AI tuningJobs in projects/P/locations/L (datasets in gs://B/prefix)``."""
    name = BACKEND_NAMES.get(plan.backend, plan.backend)
    return f"{name} in {plan.target}" if plan.target else name


def summary_line(plan: Plan) -> str:
    """``Plan: 1 to create, ...`` or the no-changes / no-drift sentence."""
    counts = plan.summary()
    if plan.refresh_only:
        drifted = sum(n for kind, n in counts.items() if kind != ActionKind.NOOP)
        if not drifted:
            return NO_DRIFT
        noun = "model" if drifted == 1 else "models"
        return f"Drift: {drifted} {noun} changed outside the reconciler."
    if not plan.has_changes:
        return NO_CHANGES
    line = (
        f"Plan: {counts['create'] + counts['recreate']} to create, {counts['update']} to update, "
        f"{counts['replace']} to replace, {counts['delete']} to delete"
    )
    if counts["wait"]:
        line += f", {counts['wait']} to wait"
    if counts["evaluate"]:
        line += f", {counts['evaluate']} to evaluate"
    leftovers = sum(len(action.cleanup) for action in plan.actions)
    if leftovers:
        line += f", {leftovers} old {'generation' if leftovers == 1 else 'generations'} to delete"
    return line + "."


def format_value(value: object) -> str:
    """A field value as people read it: JSON literals, ``(unset)`` for nothing."""
    if value is None:
        return "(unset)"
    return json.dumps(json_value(value), ensure_ascii=False)


def _forces_replacement(action: Action, change: FieldChange) -> bool:
    return action.kind is ActionKind.REPLACE and change.path not in MUTABLE_FIELDS


def _action_lines(action: Action, *, drift: bool = False) -> list[str]:
    """The lines under an action's title; ``drift``: a refresh-only plan's finding,
    which says what was found and nothing about replacing or tuning."""
    lines: list[str] = []
    for change in action.changes:
        line = f"{change.path}: {format_value(change.before)} -> {format_value(change.after)}"
        if not drift and _forces_replacement(action, change):
            line += "  # forces replacement"
        lines.append(line)
    if action.kind is ActionKind.UPDATE and action.update_mask and not drift:
        lines.append(f"# updateMask: {','.join(action.update_mask)}")  # what the PATCH names
    if action.kind is ActionKind.REPLACE and not drift:
        lines.append(f"# replaced because: {'; '.join(action.reasons)}")
    elif action.kind is not ActionKind.UPDATE:  # an update's reasons repeat its changes
        lines.extend(f"# {reason}" for reason in action.reasons)
    lines.extend(_tuning_facts(action, drift=drift))
    lines.extend(_generation_lines(action, drift=drift))
    lines.extend(f"note: {note}" for note in action.notes)
    return lines


def _generation_lines(action: Action, *, drift: bool) -> list[str]:
    """What happens to the model's generations (createBeforeDestroy)."""
    if drift:
        return []
    lines = [f"deletes {name} (no longer serving)" for name in action.cleanup]
    if action.successor is not None and action.kind is ActionKind.REPLACE:
        lines.append(
            f"creates {action.successor}; once it is ACTIVE it serves and {action.name} is deleted"
        )
    return lines


def _shows_lines(action: Action) -> bool:
    return action.kind is not ActionKind.NOOP or bool(action.cleanup)


def _tuning_facts(action: Action, *, drift: bool) -> list[str]:
    """What a create will make, train on and how long (nothing for a drift finding)."""
    if action.kind not in CREATING_KINDS or drift:
        return []
    facts = []
    spec = action.spec
    if spec is not None:
        if spec.tunedModelSource:
            facts.append(f"tuned from: {spec.tunedModelSource}")
        elif spec.baseModel:
            facts.append(f"base model: {spec.baseModel}")
        if spec.displayName:
            facts.append(f"display name: {json.dumps(spec.displayName, ensure_ascii=False)}")
        set_values = [
            f"{key} {_number(value)}"
            for key, value in spec.hyperparameters.model_dump().items()
            if value is not None
        ]
        facts.append("hyperparameters: " + (", ".join(set_values) or "service defaults"))
    if action.dataset is not None:
        facts.append(f"training data: {action.dataset.name}, {action.dataset.examples} examples")
    return [*facts, f"estimated tuning steps: {action.estimated_steps}"]


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unchanged_line(count: int) -> str:
    noun = "model" if count == 1 else "models"
    return f"{count} unchanged {noun} not shown (--show-unchanged lists them)"


def render_plan_text(plan: Plan, *, color: bool, show_unchanged: bool = False) -> str:
    """The plan for a terminal or a CI log; ``color`` adds ANSI colours to the symbols.

    Unchanged models (a plain ``noop``: nothing to do and nothing to note) are
    counted, not listed, unless ``show_unchanged``: a plan of thousands of
    models must show its few changes at a glance.
    """

    def paint(kind: ActionKind, text: str) -> str:
        return f"\x1b[{_COLORS[kind]}m{text}\x1b[0m" if color else text

    out: list[str] = []
    if plan.backend != "gemini":
        out += [f"Backend: {printable(backend_line(plan))}", ""]
    changing = [a for a in plan.actions if _shows_lines(a)]
    if changing:
        out.append(
            "Changes outside the reconciler (refresh-only: nothing will be changed):"
            if plan.refresh_only
            else "The reconciler will perform the following actions:"
        )
        out.append("")
    hidden = 0
    listed_noop_last = False
    # Changes, reasons and notes quote live values: printable before any colour is added.
    for action in plan.actions:
        if not show_unchanged and not _shows_lines(action) and not action.notes:
            hidden += 1
            continue
        out.append(f"  {paint(action.kind, title(plan, action))} {printable(action.address)}")
        listed_noop_last = not _shows_lines(action)
        if _shows_lines(action):
            lines = _action_lines(action, drift=plan.refresh_only)
            out.extend(f"      {printable(line)}" for line in lines)
            out.append("")
        else:
            out.extend(f"      note: {printable(note)}" for note in action.notes)
    if listed_noop_last:
        out.append("")
    if hidden:
        out += [_unchanged_line(hidden), ""]
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"


def _action_json(action: Action) -> dict[str, object]:
    doc: dict[str, object] = {
        "address": action.address,
        "name": action.name,
        "action": action.kind.value,
    }
    if action.kind is ActionKind.UPDATE:
        doc["updateMask"] = list(action.update_mask)
    doc["changes"] = [change_to_json(c) for c in action.changes]
    doc["reasons"] = list(action.reasons)
    if action.notes:
        doc["notes"] = list(action.notes)
    if action.kind in CREATING_KINDS:
        doc["estimatedSteps"] = action.estimated_steps
    if action.depends_on is not None:
        doc["dependsOn"] = f"TunedModel/{action.depends_on}"
    if action.successor is not None:
        doc["successor"] = action.successor
    if action.cleanup:
        doc["cleanup"] = list(action.cleanup)
    return doc


def render_plan_json(plan: Plan) -> str:
    """One JSON object, PRODUCT.md's shape (plus ``refreshOnly``, ``notes``, ``estimatedSteps``, ``dependsOn``)."""
    doc = {
        "formatVersion": JSON_FORMAT_VERSION,
        "refreshOnly": plan.refresh_only,
        "summary": plan.summary(),
        "actions": [_action_json(a) for a in plan.actions],
        "state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "backend": {"type": plan.backend, "target": plan.target},
    }
    return pretty(doc, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    """Markdown table cell: printable, HTML-escaped, pipes cannot end the cell."""
    return html.escape(printable(text)).replace("|", "&#124;")


def _markdown_details(plan: Plan, action: Action) -> list[str]:
    out = [
        f"<details><summary><code>{html.escape(title(plan, action).strip())}</code> "
        f"<b>{_cell(action.address)}</b></summary>",
        "",
    ]
    drift = plan.refresh_only
    if action.changes:
        out += ["| field | before | after |", "|---|---|---|"]
        for change in action.changes:
            forces = not drift and _forces_replacement(action, change)
            flag = " (forces replacement)" if forces else ""
            out.append(
                f"| <code>{_cell(change.path)}</code>{flag} | <code>{_cell(format_value(change.before))}</code> "
                f"| <code>{_cell(format_value(change.after))}</code> |"
            )
        out.append("")
    if action.kind is ActionKind.UPDATE:
        if not drift:
            out.append(f"- updateMask: <code>{_cell(','.join(action.update_mask))}</code>")
    else:
        out.extend(f"- {_cell(reason)}" for reason in action.reasons)
    out.extend(f"- {_cell(fact)}" for fact in _tuning_facts(action, drift=drift))
    out.extend(f"- {_cell(line)}" for line in _generation_lines(action, drift=drift))
    out.extend(f"- note: {_cell(note)}" for note in action.notes)
    return [*out, "", "</details>", ""]


def render_plan_markdown(plan: Plan) -> str:
    """A pull-request comment: the summary and a count table first, then one collapsible block per model."""
    title = "reconciler plan (refresh-only)" if plan.refresh_only else "reconciler plan"
    out = [f"### {title}", ""]
    if plan.backend != "gemini":
        out += [f"Backend: {_cell(backend_line(plan))}", ""]
    out += [f"**{summary_line(plan)}**", "", "| action | count |", "|---|---:|"]
    out += [f"| {kind} | {count} |" for kind, count in plan.summary().items()]
    out.append("")
    for action in plan.actions:
        if _shows_lines(action):
            out += _markdown_details(plan, action)
    unchanged = [a for a in plan.actions if not _shows_lines(a)]
    if unchanged:
        out += [f"<details><summary>{len(unchanged)} unchanged</summary>", ""]
        for action in unchanged:
            notes = f" ({_cell('; '.join(action.notes))})" if action.notes else ""
            out.append(f"- {_cell(action.address)}{notes}")
        out += ["", "</details>", ""]
    out.append(
        f"<sub>state lineage <code>{html.escape(plan.state_lineage)}</code>, serial {plan.state_serial}</sub>"
    )
    return "\n".join(out) + "\n"
