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
from reconciler.live import LiveModel, Snapshot
from reconciler.render.chart import epoch_boundaries, svg_chart, terminal_chart, write_plot
from reconciler.render.html import render_html
from reconciler.render.inventory import render_csv, render_markdown, render_table

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
    assert lines[11].strip() == (
        "┊ epoch 2 at step 5, epoch 3 at step 9, epoch 4 at step 13, epoch 5 at step 16"
    )
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
    coloured = render_table(inventory, color=True, width=200)
    assert "\x1b[" in coloured
    assert "tunedModels/a" in coloured and "unmanaged" in coloured and "missing" in coloured
    assert coloured.rstrip().endswith(
        "2 models: 0 managed, 0 drifted, 0 in-flight, 0 failed, 1 unmanaged, 1 missing"
    )


def test_empty_project() -> None:
    empty = classify(live=[], state=StateDocument())
    assert render_table(empty, color=False) == (
        "No tuned models.\n0 models: 0 managed, 0 drifted, 0 in-flight, 0 failed, 0 unmanaged, 0 missing\n"
    )
