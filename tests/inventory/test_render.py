"""Renderings people and scripts read: charts, CSV/markdown escaping, the HTML page, colour."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reconciler.applied import ModelRecord, StateDocument
from reconciler.errors import UsageError
from reconciler.inventory import Inventory, classify
from reconciler.live import LiveModel, OperationStatus, Snapshot
from reconciler.render.chart import epoch_boundaries, svg_chart, terminal_chart, write_plot
from reconciler.render.html import render_html
from reconciler.render.inventory import render_csv, render_markdown, render_table
from reconciler.render.show import (
    SNAPSHOT_ROWS_SHOWN,
    chart_width_for,
    operation_summary,
    render_show_text,
)

SVG = "{http://www.w3.org/2000/svg}"
# 15 examples, batch 4, 5 epochs: 19 steps, epochs start at steps 1, 5, 9, 13, 16.
SNAPSHOTS = tuple(
    Snapshot(step=s, epoch=(s - 1) * 4 // 15 + 1, mean_loss=5.0 / s + 0.2) for s in range(1, 20)
)


def _inventory(display_name: str, *, snapshots: tuple[Snapshot, ...] = ()) -> Inventory:
    live = LiveModel(
        name="tunedModels/a", state="ACTIVE", display_name=display_name, snapshots=snapshots
    )
    return classify(live=[live], state=StateDocument())


def test_epoch_boundaries() -> None:
    assert epoch_boundaries(SNAPSHOTS) == [(5, 2), (9, 3), (13, 4), (16, 5)]


def test_terminal_chart_unicode_and_ascii() -> None:
    chart = terminal_chart(SNAPSHOTS, width=40, height=8)
    lines = chart.splitlines()
    assert lines[0].strip() == "mean loss"
    assert lines[1].startswith("   5.2 ┤")  # the top label is the highest loss, right-aligned
    assert lines[8].startswith("0.4632 ┤")  # the bottom label the lowest
    assert lines[9].count("┴") == 4  # one tick per epoch boundary
    assert lines[10].split() == ["1", "19", "step"]
    assert [line.strip() for line in lines[11:]] == [  # wrapped to the chart's width
        "┊ epoch 2 at step 5, epoch 3 at step 9,",
        "epoch 4 at step 13, epoch 5 at step 16",
    ]
    plain = terminal_chart(SNAPSHOTS, width=40, height=8, unicode=False)
    assert plain.isascii()
    assert "*" in plain and plain.splitlines()[9].count("+") == 5  # corner + 4 boundaries


def test_terminal_chart_of_nothing_is_empty() -> None:
    assert terminal_chart(()) == ""
    assert terminal_chart((Snapshot(step=1),)) == ""


def test_a_single_point_still_draws() -> None:
    assert "⠁" in terminal_chart((Snapshot(step=1, epoch=1, mean_loss=2.0),), width=10, height=3)


def test_svg_chart_has_axes_labels_markers_and_the_line() -> None:
    root = ET.fromstring(svg_chart(SNAPSHOTS, title="A <model> & co"))
    classes = [el.get("class") for el in root.iter()]
    assert classes.count("axis x-axis") == 1 and classes.count("axis y-axis") == 1
    assert classes.count("epoch-marker") == 4
    (line,) = root.iter(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == 19
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"step", "mean loss", "A <model> & co"} <= set(texts)


def test_write_plot_refuses_unknown_types_and_empty_curves(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown image type \.gif"):
        write_plot(SNAPSHOTS, path=tmp_path / "x.gif", title="t")
    with pytest.raises(UsageError, match="no tuning snapshots yet"):
        write_plot((), path=tmp_path / "x.png", title="t")
    assert not list(tmp_path.iterdir())


def test_csv_quotes_what_needs_quoting() -> None:
    text = render_csv(_inventory('Say "hi", then\nleave'))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["displayName"] == 'Say "hi", then\nleave'


def test_markdown_escapes_pipes_and_newlines() -> None:
    lines = render_markdown(_inventory("a | b\nc")).splitlines()
    assert "a \\| b c" in lines[2]
    assert lines[2].count(" | ") == 8  # nine cells, no extra column


def test_html_escapes_everything_users_wrote() -> None:
    page = render_html(
        _inventory("<script>alert(1)</script>", snapshots=SNAPSHOTS), generated_at="now"
    )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="loss-chart"') == 1


def test_html_without_snapshots_says_so() -> None:
    page = render_html(_inventory("A"), generated_at="now")
    assert "No model has tuning snapshots yet." in page
    assert "<svg" not in page


def test_table_colour_only_when_asked() -> None:
    inventory = classify(
        live=[LiveModel(name="tunedModels/a", state="ACTIVE")],
        state=StateDocument(models={"b": ModelRecord(name="tunedModels/b")}),
    )
    plain = render_table(inventory, color=False)
    assert "\x1b[" not in plain
    coloured = render_table(inventory, color=True)
    assert "\x1b[" in coloured
    assert "tunedModels/a" in coloured and "unmanaged" in coloured and "missing" in coloured
    assert coloured.rstrip().endswith("2 models: 1 unmanaged, 1 missing")


@pytest.mark.parametrize("width", [80, 100, 120])
def test_plain_table_fits_a_given_width(width: int) -> None:
    live = [
        LiveModel(
            name=f"tunedModels/model-{n}",
            state="ACTIVE",
            base_model="models/gemini-1.5-flash-001-tuning",
            display_name="A display name of forty characters long!",
            create_time="2024-03-14T15:07:41.317001Z",
            update_time="2024-03-14T16:00:02.000001Z",
        )
        for n in range(3)
    ]
    inventory = classify(live=live, state=StateDocument())
    full = render_table(inventory, color=False)
    assert max(len(line) for line in full.splitlines()) > 120  # nothing clipped by default
    fitted = render_table(inventory, color=False, fit_width=width, unicode=False)
    table = fitted.split("\n\n")[0].splitlines()
    assert max(len(line) for line in table) <= width
    assert [line.split()[0] for line in table[1:]] == [m.name for m in live]
    assert "UPDATED" not in table[0]


def test_empty_project() -> None:
    empty = classify(live=[], state=StateDocument())
    assert render_table(empty, color=False) == ("No tuned models.\n0 models\n")


def _show(*, snapshots: tuple[Snapshot, ...], operation: OperationStatus | None = None) -> str:
    live = LiveModel(name="tunedModels/a", state="ACTIVE", display_name="A", snapshots=snapshots)
    row = classify(live=[live], state=StateDocument()).rows[0]
    return render_show_text(
        model=live,
        row=row,
        operation=operation,
        snapshots=snapshots,
        chart_width=chart_width_for(80),
    )


@pytest.mark.parametrize("scale", [1.0, 0.000123, -123_456.0])
def test_show_fits_an_80_column_terminal(scale: float) -> None:
    snapshots = tuple(
        Snapshot(step=s, epoch=(s - 1) // 10 + 1, mean_loss=scale * (5.0 / s + 0.2))
        for s in range(1, 300)
    )
    lines = _show(snapshots=snapshots).splitlines()
    assert sum("epoch" in line for line in lines) == 3  # 29 epoch marks: three lines of them
    assert any(line.endswith(" more)") for line in lines)
    assert any("step" in line and line.rstrip().endswith("step") for line in lines)
    assert max(len(line) for line in lines) <= 80


def test_show_elides_snapshot_rows_only_when_that_saves_lines() -> None:
    shown = SNAPSHOT_ROWS_SHOWN + 1
    one_over = tuple(Snapshot(step=s, epoch=1, mean_loss=1.0) for s in range(1, shown + 1))
    assert "more)" not in _show(snapshots=one_over)
    two_over = (*one_over, Snapshot(step=shown + 1, epoch=1, mean_loss=1.0))
    assert "(2 more)" in _show(snapshots=two_over)


def test_a_failed_operation_reads_as_one_sentence() -> None:
    operation = OperationStatus(
        name="tunedModels/a/operations/x",
        model="tunedModels/a",
        done=True,
        total_steps=19,
        completed_steps=9,
        completed_percent=47.4,
        error_code=13,
        error_message="Tuning failed: the training job stopped with an internal error.",
    )
    assert operation_summary(operation) == (
        "failed at 9/19 steps (47%): Tuning failed: the training job stopped with an "
        "internal error (code 13)"
    )
