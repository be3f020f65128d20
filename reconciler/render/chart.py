"""Loss curves: a terminal chart, an inline SVG, and image files (SVG/PNG) via matplotlib.

Three renderings of the same thing -- mean loss per tuning step, with epoch
boundaries marked -- for three places people look:

* ``terminal_chart``: braille dots (2x4 per character cell, so a 60-column
  chart has 120 x-positions), or plain ``*`` when the terminal cannot show
  Unicode. No dependency.
* ``svg_chart``: a small hand-written SVG for the self-contained HTML report;
  matplotlib's SVG would work too but carries fonts and ids that make a
  100-model report heavy.
* ``write_plot``: a publication-quality file through matplotlib with the Agg
  backend, imported only here so CLI start-up does not pay for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from reconciler.errors import UsageError
from reconciler.live import Snapshot

# Braille dot bit for (x, y) inside one character cell (2 columns x 4 rows).
_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_BRAILLE_BASE = 0x2800
PLOT_SUFFIXES = (".svg", ".png")


def loss_points(snapshots: Sequence[Snapshot]) -> list[tuple[int, float]]:
    """(step, mean loss) for every snapshot that has a loss, in step order."""
    points = [(s.step, s.mean_loss) for s in snapshots if s.mean_loss is not None]
    return sorted((step, float(loss)) for step, loss in points)


def epoch_boundaries(snapshots: Sequence[Snapshot]) -> list[tuple[int, int]]:
    """(step, epoch) of the first snapshot of every epoch after the first."""
    marks: list[tuple[int, int]] = []
    previous: int | None = None
    for snap in sorted(snapshots, key=lambda s: s.step):
        if previous is not None and snap.epoch > previous:
            marks.append((snap.step, snap.epoch))
        previous = snap.epoch
    return marks


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def terminal_chart(
    snapshots: Sequence[Snapshot], *, width: int = 60, height: int = 12, unicode: bool = True
) -> str:
    """The loss curve as text; ``""`` when no snapshot has a loss."""
    points = loss_points(snapshots)
    if not points:
        return ""
    xs_per_cell, ys_per_cell = (2, 4) if unicode else (1, 1)
    px_w, px_h = width * xs_per_cell, height * ys_per_cell
    x0, x1 = points[0][0], points[-1][0]
    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
    span_x, span_y = max(x1 - x0, 1), (hi - lo) or 1.0

    def to_px(step: float, loss: float) -> tuple[int, int]:
        px = round((step - x0) / span_x * (px_w - 1))
        py = round((hi - loss) / span_y * (px_h - 1))
        return px, py

    lit: set[tuple[int, int]] = set()
    pixels = [to_px(step, loss) for step, loss in points]
    for (ax, ay), (bx, by) in zip(pixels, pixels[1:] or pixels, strict=False):
        n = max(abs(bx - ax), abs(by - ay), 1)
        for i in range(n + 1):
            lit.add((round(ax + (bx - ax) * i / n), round(ay + (by - ay) * i / n)))
    cells = [[0] * width for _ in range(height)]
    for px, py in lit:
        cx, cy = px // xs_per_cell, py // ys_per_cell
        cells[cy][cx] |= _BRAILLE_BITS[py % 4][px % 2] if unicode else 1
    epoch_cols = {to_px(step, lo)[0] // xs_per_cell for step, _ in epoch_boundaries(snapshots)}
    blank, dot, marker = (" ", "*", ":") if not unicode else (" ", "", "┊")
    labels = {0: _fmt(hi), height - 1: _fmt(lo), (height - 1) // 2: _fmt(hi - span_y / 2)}
    label_w = max(len(text) for text in labels.values())
    tick, bar, corner, rule, cross = (
        ("┤", "│", "└", "─", "┴") if unicode else ("+", "|", "+", "-", "+")
    )
    lines = [" " * label_w + "  mean loss"]
    for row in range(height):
        text = []
        for col in range(width):
            bits = cells[row][col]
            if bits:
                text.append(chr(_BRAILLE_BASE + bits) if unicode else dot or "*")
            else:
                text.append(marker if col in epoch_cols else blank)
        label = labels.get(row, "")
        lines.append(f"{label:>{label_w}} {tick if label else bar}{''.join(text).rstrip()}")
    axis = [cross if col in epoch_cols else rule for col in range(width)]
    lines.append(" " * label_w + " " + corner + "".join(axis))
    first, last = str(x0), str(x1)
    gap = max(width - len(first) - len(last), 1)
    lines.append(" " * (label_w + 2) + first + " " * gap + last + "  step")
    marks = epoch_boundaries(snapshots)
    if marks:
        indent = " " * (label_w + 2)
        for number, note in enumerate(_epoch_notes(marks, room=width + 4)):
            lines.append(indent + (f"{marker or ':'} " if number == 0 else "  ") + note)
    return "\n".join(lines)


# Lines of epoch notes under a terminal chart; a 40-epoch run says "N more".
_EPOCH_NOTE_LINES = 3


def _epoch_notes(marks: Sequence[tuple[int, int]], *, room: int) -> list[str]:
    """ "epoch 2 at step 5, ..." wrapped to ``room`` characters, at most three lines. Pure."""
    parts = [f"epoch {epoch} at step {step}" for step, epoch in marks]
    rows: list[list[str]] = [[]]
    for part in parts:
        if rows[-1] and len(", ".join([*rows[-1], part])) > room:
            if len(rows) == _EPOCH_NOTE_LINES:
                break
            rows.append([])
        rows[-1].append(part)
    hidden = len(parts) - sum(len(row) for row in rows)
    if hidden:
        while len(rows[-1]) > 1 and len(", ".join(rows[-1])) + len(f", ... ({hidden} more)") > room:
            rows[-1].pop()
            hidden += 1
        rows[-1].append(f"... ({hidden} more)")
    return [
        ", ".join(row) + ("," if index < len(rows) - 1 else "") for index, row in enumerate(rows)
    ]


def nice_ticks(lo: float, hi: float, *, at_most: int, whole: bool = False) -> list[float]:
    """Evenly spaced round values within [lo, hi]: steps of 1, 2 or 5 times a power
    of ten (whole numbers only when ``whole``), at most ``at_most`` of them. Pure.

    Plain fractions of the range give labels like 4.67 and 3.196, or uneven
    integer steps (1, 4, 6, 9, 12) once rounded.
    """
    if hi <= lo:
        return [round(lo) if whole else lo]
    power = 10.0 ** (math.floor(math.log10((hi - lo) / max(at_most, 1))) - 1)
    while True:  # the smallest round step that gives at most at_most ticks
        for multiple in (1, 2, 5):
            step = multiple * power
            if whole and step < 1:
                continue
            first = math.ceil(lo / step - 1e-9)
            last = math.floor(hi / step + 1e-9)
            if last - first + 1 <= at_most:
                decimals = max(0, -math.floor(math.log10(step) + 1e-9))
                return [round(i * step, decimals) for i in range(first, last + 1)]
        power *= 10


def tick_label(value: float) -> str:
    """A tick value as written on the axis: no trailing zeros, no float noise. Pure."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def svg_chart(
    snapshots: Sequence[Snapshot], *, width: int = 480, height: int = 240, title: str | None = None
) -> str:
    """An inline ``<svg>`` loss chart with axes, tick labels, epoch markers and the line."""
    points = loss_points(snapshots)
    left, right, top, bottom = 56, 12, 28 if title else 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    x0 = points[0][0] if points else 0
    x1 = points[-1][0] if points else 1
    lo = min((p[1] for p in points), default=0.0)
    hi = max((p[1] for p in points), default=1.0)
    span_x, span_y = max(x1 - x0, 1), (hi - lo) or 1.0

    def sx(step: float) -> float:
        return left + (step - x0) / span_x * plot_w

    def sy(loss: float) -> float:
        return top + (hi - loss) / span_y * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="loss-chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title or "loss curve", {chr(34): "&quot;"})}">'
    ]
    if title:
        out.append(
            f'<text class="title" x="{width / 2:.1f}" y="18" text-anchor="middle">{escape(title)}</text>'
        )
    for step, epoch in epoch_boundaries(snapshots):
        x = sx(step)
        out.append(
            f'<line class="epoch-marker" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
            f'stroke="#bbb" stroke-dasharray="3,3"><title>epoch {epoch}</title></line>'
        )
    base_y = top + plot_h
    out.append(
        f'<line class="axis x-axis" x1="{left}" y1="{base_y}" x2="{left + plot_w}" y2="{base_y}" stroke="#333"/>'
    )
    out.append(
        f'<line class="axis y-axis" x1="{left}" y1="{top}" x2="{left}" y2="{base_y}" stroke="#333"/>'
    )
    for value in nice_ticks(lo, hi, at_most=5):
        y = sy(value)
        out.append(
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick_label(value)}</text>'
        )
    for value in nice_ticks(x0, x1, at_most=6, whole=True):
        x = sx(value)
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{base_y + 16}" text-anchor="middle">{tick_label(value)}</text>'
        )
    out.append(
        f'<text class="axis-label" x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">step</text>'
    )
    out.append(
        f'<text class="axis-label" transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">mean loss</text>'
    )
    if points:
        coords = " ".join(f"{sx(step):.1f},{sy(loss):.1f}" for step, loss in points)
        out.append(
            f'<polyline class="loss-line" fill="none" stroke="#1a73e8" stroke-width="2" points="{coords}"/>'
        )
    out.append("</svg>")
    return "\n".join(out)


def write_plot(snapshots: Sequence[Snapshot], *, path: Path, title: str) -> Path | None:
    """Write the loss curve to ``path`` (.svg or .png) with matplotlib's Agg backend.

    Missing parent directories are created, like ``--out`` paths elsewhere;
    the outermost one created is returned so the caller can say so (a typo in
    a directory name should not go unnoticed), else ``None``.
    """
    suffix = path.suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise UsageError(
            f"cannot plot to {path.name}: unknown image type {suffix or '(none)'}",
            hint="use a file name ending in .svg or .png",
        )
    points = loss_points(snapshots)
    if not points:
        raise UsageError(
            "no loss curve to plot: the model has no tuning snapshots yet",
            hint="wait for tuning to report its first steps (`reconciler wait`)",
        )
    from reconciler.extras import require

    require("plot")
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # the OO API: no global pyplot state
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    axes.plot(
        [p[0] for p in points],
        [p[1] for p in points],
        color="#1a73e8",
        linewidth=2,
        marker="." if len(points) < 60 else None,
        label="mean loss",
    )
    for index, (step, epoch) in enumerate(epoch_boundaries(snapshots)):
        axes.axvline(
            step,
            color="#999",
            linestyle="--",
            linewidth=0.8,
            label="epoch boundary" if index == 0 else None,
        )
        axes.annotate(
            f"e{epoch}",
            (step, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10),
            textcoords="offset points",
            fontsize=7,
            color="#666",
        )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    axes.set_title(title)
    axes.set_xlabel("step")
    axes.set_ylabel("mean loss")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best")
    figure.tight_layout()
    created = _outermost_missing(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Text stays text in an SVG (searchable, accessible, small), not glyph outlines.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(path, format=suffix.lstrip("."))
    return created


def _outermost_missing(directory: Path) -> Path | None:
    """The highest ancestor of ``directory`` (itself included) that does not exist yet."""
    missing: Path | None = None
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing
