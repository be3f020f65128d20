"""The inventory as text for people (table, markdown) and for scripts (JSON, CSV).

Styling only: the rows arrive classified (``reconciler.inventory``). This
module sits below the inventory in the import layers, so it describes the
rows it needs with Protocols rather than importing their classes.

The JSON and CSV shapes are a stable interface for scripts, documented in
``docs/inventory.md``; add fields, never rename or remove them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from reconciler.applied import EvaluationRecord
from reconciler.jsontext import pretty
from reconciler.live import Snapshot
from reconciler.render.escape import csv_cell, printable

INVENTORY_FORMAT_VERSION = 1

CSV_COLUMNS = (
    "name",
    "status",
    "address",
    "source",
    "state",
    "createTime",
    "updateTime",
    "displayName",
    "drift",
    "completedSteps",
    "totalSteps",
    "percent",
    "error",
    "evaluation",
)

TABLE_HEADERS = (
    "NAME",
    "STATUS",
    "ADDRESS",
    "SOURCE",
    "STATE",
    "CREATED",
    "UPDATED",
    "DISPLAY NAME",
    "EVALUATION",
    "DETAIL",
)

# rich styles per status value; plain text and markdown show the word alone.
STATUS_STYLES = {
    "managed": "green",
    "drifted": "yellow",
    "in-flight": "cyan",
    "failed": "bold red",
    "unmanaged": "magenta",
    "missing": "red",
}


class ProgressView(Protocol):
    @property
    def completed_steps(self) -> int: ...
    @property
    def total_steps(self) -> int: ...
    @property
    def percent(self) -> float | None: ...


class RowView(Protocol):
    """What a renderer reads of one inventory row (``reconciler.inventory.InventoryRow``)."""

    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def address(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def state(self) -> str | None: ...
    @property
    def create_time(self) -> str | None: ...
    @property
    def update_time(self) -> str | None: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def drift(self) -> tuple[str, ...]: ...
    @property
    def progress(self) -> ProgressView | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def generation(self) -> str | None: ...
    @property
    def detail(self) -> str: ...
    @property
    def latest_loss(self) -> float | None: ...
    @property
    def snapshots(self) -> tuple[Snapshot, ...]: ...
    @property
    def evaluation(self) -> EvaluationRecord | None: ...


class InventoryView(Protocol):
    """What a renderer reads of a whole inventory (``reconciler.inventory.Inventory``)."""

    @property
    def rows(self) -> Sequence[RowView]: ...
    @property
    def filter(self) -> str | None: ...
    @property
    def totals(self) -> Mapping[str, int]: ...
    @property
    def total(self) -> int: ...


def short_time(value: str | None) -> str:
    """``2024-03-14T15:07:41.317001Z`` -> ``2024-03-14 15:07:41`` (UTC) for tables."""
    if not value:
        return ""
    return value.replace("T", " ")[:19]


def summary_line(inventory: InventoryView) -> str:
    """``6 models: 4 managed, 2 drifted`` -- the totals people read: non-zero counts only.

    A filtered listing is usually one or two statuses; a row of zeros would
    bury them. The JSON keeps every status, zero included, for scripts.
    """
    parts = ", ".join(f"{count} {status}" for status, count in inventory.totals.items() if count)
    noun = "model" if inventory.total == 1 else "models"
    line = f"{inventory.total} {noun}: {parts}" if parts else f"{inventory.total} {noun}"
    if inventory.filter:
        shown = printable(repr(inventory.filter))
        line += f" (filter {shown}; missing models are not listed when filtering)"
    return line


def _progress_json(progress: ProgressView | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    percent = progress.percent
    return {
        "completedSteps": progress.completed_steps,
        "totalSteps": progress.total_steps or None,
        "percent": round(percent, 1) if percent is not None else None,
    }


def inventory_json(inventory: InventoryView) -> dict[str, Any]:
    """The JSON document of ``inventory --format json`` (see docs/inventory.md)."""
    models = [
        {
            "name": row.name,
            "status": str(row.status),
            "address": row.address,
            "source": row.source,
            "state": row.state,
            "createTime": row.create_time,
            "updateTime": row.update_time,
            "displayName": row.display_name,
            "drift": list(row.drift),
            "progress": _progress_json(row.progress),
            "error": row.error,
            "generation": row.generation,
            "snapshotCount": len(row.snapshots),
            "latestMeanLoss": row.latest_loss,
            "evaluation": (
                row.evaluation.model_dump(mode="json") if row.evaluation is not None else None
            ),
        }
        for row in inventory.rows
    ]
    totals: dict[str, int] = dict(inventory.totals)
    totals["total"] = inventory.total
    return {
        "formatVersion": INVENTORY_FORMAT_VERSION,
        "filter": inventory.filter,
        "models": models,
        "totals": totals,
    }


def render_json(inventory: InventoryView) -> str:
    return pretty(inventory_json(inventory)) + "\n"


def render_csv(inventory: InventoryView) -> str:
    """One header line and one row per model; no totals row, so scripts can load it as is."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in inventory.rows:
        progress = _progress_json(row.progress) or {}
        cells = [
            row.name,
            str(row.status),
            row.address or "",
            row.source or "",
            row.state or "",
            row.create_time or "",
            row.update_time or "",
            row.display_name or "",
            ";".join(row.drift),
            _cell(progress.get("completedSteps")),
            _cell(progress.get("totalSteps")),
            _cell(progress.get("percent")),
            row.error or "",
            evaluation_cell(row.evaluation) if row.evaluation is not None else "",
        ]
        writer.writerow([csv_cell(cell) for cell in cells])
    return buffer.getvalue()


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def evaluation_cell(record: EvaluationRecord | None) -> str:
    """``pass``, or ``below: exactMatch 0.50 < 0.90`` (``reported`` when its gate is off)."""
    if record is None:
        return "-"
    if record.passed:
        return "pass"
    missed = ", ".join(f"{m.type} {m.score:.2f} < {m.threshold:.2f}" for m in record.failed_metrics)
    return f"{'below' if record.gate else 'below (no gate)'}: {missed}"


def shown_columns(inventory: InventoryView) -> list[int]:
    """Indexes of ``TABLE_HEADERS`` to show: EVALUATION only when some model has one."""
    evaluated = any(row.evaluation is not None for row in inventory.rows)
    return [i for i, header in enumerate(TABLE_HEADERS) if evaluated or header != "EVALUATION"]


_LAYOUT_BREAKS = re.compile("[\t\n\r]")


def table_cells(row: RowView) -> list[str]:
    """The human table's cells for one row, in ``TABLE_HEADERS`` order, each ``printable``
    (every human format of the inventory is built from these)."""
    cells = [
        row.name,
        str(row.status),
        row.address or "-",
        row.source or "-",
        row.state or "-",
        short_time(row.create_time) or "-",
        short_time(row.update_time) or "-",
        row.display_name or "-",
        evaluation_cell(row.evaluation),
        row.detail,
    ]
    # A line break or tab would break the table's lines: a space, as markdown needs too.
    return [printable(_LAYOUT_BREAKS.sub(" ", cell)) for cell in cells]


def render_table(
    inventory: InventoryView,
    *,
    color: bool,
    fit_width: int | None = None,
    unicode: bool = True,
) -> str:
    """An aligned table for people; with ``color``, a bold header and coloured statuses.

    Every column is kept in full unless ``fit_width`` is given (the width of a
    real terminal, or ``COLUMNS``): output piped to a script must not lose cells
    to a width nobody asked for. Colour is added after the cells are fitted and
    padded, so a coloured table has exactly the plain one's layout: no cell
    wraps in a terminal.
    """
    if not inventory.rows:
        return "No tuned models.\n" + summary_line(inventory) + "\n"
    shown = shown_columns(inventory)
    rows = [[TABLE_HEADERS[i] for i in shown]] + [
        [cells[i] for i in shown] for cells in (table_cells(row) for row in inventory.rows)
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(shown))]
    if fit_width is not None:
        empty = {
            TABLE_HEADERS[index]
            for i, index in enumerate(shown)
            if all(r[i] in ("", "-") for r in rows[1:])
        }
        widths = fit_columns(
            [_width_or_hidden(widths, shown, i) for i in range(len(TABLE_HEADERS))],
            width=fit_width,
            empty=empty,
        )
        widths = [widths[i] for i in shown]
    mark = "\u2026" if unicode else "~"
    paint = _painter() if color else None
    last = max(i for i, w in enumerate(widths) if w > 0)
    lines = []
    for number, r in enumerate(rows):
        cells = []
        for index, (cell, w) in enumerate(zip(r, widths, strict=True)):
            if w == 0:
                continue
            text = _clip(cell, w, mark)
            text = text if index == last else text.ljust(w)
            if paint is not None and number == 0:
                text = paint(text, "bold")
            elif paint is not None and index == 1:
                text = paint(text, STATUS_STYLES.get(cell, ""))
            cells.append(text)
        lines.append((" " * _GAP).join(cells).rstrip())
    return "\n".join(lines) + "\n\n" + summary_line(inventory) + "\n"


def _width_or_hidden(widths: Sequence[int], shown: Sequence[int], index: int) -> int:
    """The width of column ``index`` of ``TABLE_HEADERS`` (0 when it is not shown)."""
    return widths[shown.index(index)] if index in shown else 0


def _painter() -> Callable[[str, str], str]:
    """``paint(text, style)``: text wrapped in the ANSI codes of a rich style name."""
    from rich.color import ColorSystem  # only when colour is on: keeps plain runs fast
    from rich.style import Style

    def paint(text: str, style: str) -> str:
        if not style:
            return text
        return Style.parse(style).render(text, color_system=ColorSystem.STANDARD)

    return paint


_GAP = 2  # spaces between plain table columns

# How a plain table narrows to fit a terminal, step by step, until it fits:
# ("drop", columns) removes those columns; ("drop-empty", columns) removes those
# with nothing in them; ("shorten", columns, minimum) clips the widest of the
# columns, one character at a time, down to minimum. ADDRESS goes before STATE:
# a manifest name is the model's id, while an unmanaged model's live state is
# said nowhere else. NAME and STATUS are never touched: when even they do not
# fit, lines overflow.
_FIT_STEPS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("drop", ("UPDATED",), 0),
    ("drop", ("CREATED",), 0),
    ("drop-empty", ("ADDRESS", "SOURCE", "STATE", "DISPLAY NAME", "EVALUATION", "DETAIL"), 0),
    ("shorten", ("DETAIL", "DISPLAY NAME"), 12),
    ("shorten", ("SOURCE",), 16),
    ("drop", ("ADDRESS",), 0),
    ("shorten", ("DETAIL", "DISPLAY NAME", "SOURCE"), 8),
    ("drop", ("STATE",), 0),
)


def fit_columns(widths: Sequence[int], *, width: int, empty: Collection[str] = ()) -> list[int]:
    """Column widths (0 = dropped) so the plain table fits ``width`` characters. Pure.

    ``widths`` are the full widths in ``TABLE_HEADERS`` order; ``empty`` names
    the columns with no value in any row.
    """
    fitted = list(widths)

    def total() -> int:
        kept = [w for w in fitted if w > 0]
        return sum(kept) + _GAP * (len(kept) - 1)

    for kind, names, minimum in _FIT_STEPS:
        if total() <= width:
            break
        indexes = [TABLE_HEADERS.index(name) for name in names]
        if kind == "drop":
            for index in indexes:
                fitted[index] = 0
        elif kind == "drop-empty":
            for index in indexes:
                if TABLE_HEADERS[index] in empty:
                    fitted[index] = 0
        else:
            while total() > width:
                widest = max(indexes, key=lambda i: fitted[i])
                if fitted[widest] <= minimum:
                    break
                fitted[widest] -= 1
    return fitted


def _clip(cell: str, width: int, mark: str) -> str:
    """``cell`` cut to ``width`` characters, ending in ``mark`` when something was cut."""
    if len(cell) <= width:
        return cell
    return cell[: max(width - len(mark), 0)] + mark


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(inventory: InventoryView) -> str:
    """A GitHub-flavoured markdown table plus the totals, for issues and pull requests."""
    shown = shown_columns(inventory)
    lines = ["| " + " | ".join(TABLE_HEADERS[i].title() for i in shown) + " |"]
    lines.append("|" + "---|" * len(shown))
    for row in inventory.rows:
        cells = [_md(cell) for cell in table_cells(row)]
        cells[0] = f"`{cells[0]}`"
        cells[1] = f"**{cells[1]}**"
        lines.append("| " + " | ".join(cells[i] for i in shown) + " |")
    lines.append("")
    lines.append(f"**Totals:** {summary_line(inventory)}")
    return "\n".join(lines) + "\n"
