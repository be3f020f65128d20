"""One tuned model for ``reconciler show``: fields, operation progress, snapshots, loss curve.

Styling only. The text form is meant to read well in a plain terminal (and in
a CI log): aligned ``key  value`` lines, a snapshot table, and the loss curve
from ``render.chart``; the JSON form is for scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.applied import EvaluationRecord
from reconciler.jsontext import pretty
from reconciler.live import LiveModel, OperationStatus, Snapshot
from reconciler.render.chart import terminal_chart
from reconciler.render.escape import printable
from reconciler.render.inventory import RowView, short_time

SHOW_FORMAT_VERSION = 1
# Beyond this many snapshots the table shows the first and last few; the chart shows all.
SNAPSHOT_ROWS_SHOWN = 24


def _num(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _section(title: str, pairs: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(key) for key, _ in pairs)
    return [title, *(f"  {key.ljust(width)}  {value}" for key, value in pairs), ""]


def operation_summary(operation: OperationStatus) -> str:
    """``done, 19/19 steps (100%)``, ``running, 8/19 steps (42%)`` or ``failed at 9/19 steps (47%): ...``."""
    total = operation.total_steps
    steps = f"{operation.completed_steps}/{total or '?'} steps"
    if total:
        steps += f" ({operation.completed_percent:.0f}%)"
    if operation.error_message is not None:
        message = operation.error_message.rstrip(". ")
        return f"failed at {steps}: {message} (code {operation.error_code})"
    return f"{'done' if operation.done else 'running'}, {steps}"


def snapshot_table(snapshots: Sequence[Snapshot]) -> list[str]:
    rows = [("STEP", "EPOCH", "MEAN LOSS", "COMPUTE TIME")]
    chosen: list[Snapshot | None] = list(snapshots)
    if len(snapshots) > SNAPSHOT_ROWS_SHOWN + 1:  # an "(N more)" row must hide at least two
        half = SNAPSHOT_ROWS_SHOWN // 2
        chosen = [*snapshots[:half], None, *snapshots[-half:]]
    for snap in chosen:
        if snap is None:
            rows.append(
                ("...", "", f"({len(snapshots) - 2 * (SNAPSHOT_ROWS_SHOWN // 2)} more)", "")
            )
            continue
        loss = f"{snap.mean_loss:.6g}" if snap.mean_loss is not None else "-"
        rows.append((str(snap.step), str(snap.epoch), loss, short_time(snap.compute_time)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return [
        "  "
        + "  ".join(
            c.rjust(w) if i < 3 else c for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]


# What the loss chart needs beside its plot area: the indent (2), the y-axis
# labels (up to 10 characters, e.g. "-1.235e+05") and the axis (2), and
# "  step" after the last x label (6), plus 2 so a full line never wraps.
_CHART_MARGIN = 22
MAX_CHART_WIDTH = 72


def chart_width_for(columns: int) -> int:
    """Plot width for a terminal ``columns`` wide: the chart's lines then fit in it."""
    return max(30, min(MAX_CHART_WIDTH, columns - _CHART_MARGIN))


def render_show_text(
    *,
    model: LiveModel,
    row: RowView,
    operation: OperationStatus | None,
    snapshots: Sequence[Snapshot],
    unicode: bool = True,
    chart_width: int = 60,
) -> str:
    heading = printable(model.name + (f"  ({row.address})" if row.address else "  (not managed)"))
    lines = [heading, "=" * len(heading), ""]
    status = str(row.status) + (f" -- {row.detail}" if row.detail else "")
    fields = [
        ("status", status),
        ("state", model.state),
        ("display name", model.display_name or "-"),
        ("description", model.description or "-"),
        ("tuned from", model.tuned_model_source or "-")
        if model.tuned_model_source
        else ("base model", model.base_model or "-"),
        *(
            ()
            if model.job  # Vertex AI: a tuned model has none of these
            else (
                ("temperature", _num(model.temperature)),
                ("topP", _num(model.top_p)),
                ("topK", _num(model.top_k)),
                ("readers", ", ".join(model.reader_project_numbers) or "-"),
            )
        ),
        ("created", short_time(model.create_time) or "-"),
        ("updated", short_time(model.update_time) or "-"),
        ("tuning started", short_time(model.start_time) or "-"),
        ("tuning completed", short_time(model.complete_time) or "-"),
    ]
    if row.generation:
        fields.insert(1, ("generation", row.generation))
    if model.labels:
        fields.append(("labels", ", ".join(f"{k}={v}" for k, v in sorted(model.labels.items()))))
    lines += _section("Model", fields)
    if model.job:  # Vertex AI: the job, and the Model and Endpoint it produced
        lines += _section(
            "Tuning job",
            [
                ("job", model.job),
                ("model", model.tuned_model or "-"),
                ("endpoint", model.serving_endpoint or "-"),
            ],
        )
    hyper = [(key, _num(value)) for key, value in model.hyperparameters.items()]
    lines += _section("Hyperparameters", hyper or [("(none returned)", "")])
    if operation is not None:
        lines += _section(
            "Operation", [("name", operation.name), ("progress", operation_summary(operation))]
        )
    if row.evaluation is not None:
        lines += evaluation_section(row.evaluation)
    if snapshots:
        lines += [f"Tuning snapshots ({len(snapshots)})", *snapshot_table(snapshots), ""]
        chart = terminal_chart(snapshots, width=chart_width, unicode=unicode)
        if chart:
            lines += ["Loss curve", *("  " + line for line in chart.splitlines()), ""]
    elif model.job:
        # The job resource carries no per-step loss (its experiment does).
        lines += ["Tuning snapshots", "  none on a Vertex AI tuning job", ""]
    else:
        lines += ["Tuning snapshots", "  none yet", ""]
    # Live values (display name, description, an operation's error) reach the terminal.
    return "\n".join(printable(line) for line in lines)


def evaluation_section(record: EvaluationRecord) -> list[str]:
    """The model's last evaluation: result, when, on what data, and each metric."""
    gate = "" if record.gate else " (gate: false, reported only)"
    pairs = [
        ("evaluation", record.evaluation),
        ("result", ("passed" if record.passed else "below a threshold") + gate),
        ("run", short_time(record.time) or "-"),
        ("dataset", f"{record.examples} examples, {record.datasetHash}"),
    ]
    for metric in record.metrics:
        name = metric.type + (f" /{metric.pattern}/" if metric.pattern is not None else "")
        verdict = "pass" if metric.passed else "FAIL"
        pairs.append((name, f"{metric.score:.2f} (threshold {metric.threshold:.2f}) {verdict}"))
    return _section("Evaluation", pairs)


def _snapshot_json(snap: Snapshot) -> dict[str, Any]:
    return {
        "step": snap.step,
        "epoch": snap.epoch,
        "meanLoss": snap.mean_loss,
        "computeTime": snap.compute_time,
    }


def render_show_json(
    *,
    model: LiveModel,
    row: RowView,
    operation: OperationStatus | None,
    snapshots: Sequence[Snapshot],
) -> str:
    """``show --format json``: the model's fields in API (camelCase) names plus its classification."""
    document: dict[str, Any] = {
        "formatVersion": SHOW_FORMAT_VERSION,
        "name": model.name,
        "address": row.address,
        "status": str(row.status),
        "generation": row.generation,
        "drift": list(row.drift),
        "model": {
            "name": model.name,
            "state": model.state,
            "baseModel": model.base_model,
            "tunedModelSource": model.tuned_model_source,
            "displayName": model.display_name,
            "description": model.description,
            "temperature": model.temperature,
            "topP": model.top_p,
            "topK": model.top_k,
            "readerProjectNumbers": list(model.reader_project_numbers),
            "labels": dict(model.labels),
            "createTime": model.create_time,
            "updateTime": model.update_time,
            "tuningTask": {
                "startTime": model.start_time,
                "completeTime": model.complete_time,
                "hyperparameters": dict(model.hyperparameters),
            },
        },
        "operation": None
        if operation is None
        else {
            "name": operation.name,
            "done": operation.done,
            "totalSteps": operation.total_steps,
            "completedSteps": operation.completed_steps,
            "completedPercent": operation.completed_percent,
            "error": None
            if operation.error_message is None
            else {"code": operation.error_code, "message": operation.error_message},
        },
        "tuningJob": None
        if model.job is None
        else {"name": model.job, "model": model.tuned_model, "endpoint": model.serving_endpoint},
        "snapshots": [_snapshot_json(s) for s in snapshots],
        "evaluation": (
            row.evaluation.model_dump(mode="json") if row.evaluation is not None else None
        ),
    }
    return pretty(document) + "\n"
