"""The HTML report's loss chart labels its axes with evenly spaced round values."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from reconciler.live import Snapshot
from reconciler.render.chart import nice_ticks, svg_chart

SVG = "{http://www.w3.org/2000/svg}"


def _tick_labels(svg: str) -> tuple[list[str], list[str]]:
    """(x labels, y labels) of a chart, told apart by their text-anchor."""
    root = ET.fromstring(svg)
    ticks = [t for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
    xs = [t.text or "" for t in ticks if t.get("text-anchor") == "middle"]
    ys = [t.text or "" for t in ticks if t.get("text-anchor") == "end"]
    return xs, ys


def _even(labels: list[str]) -> bool:
    values = [Decimal(label) for label in labels]
    return len({b - a for a, b in itertools.pairwise(values)}) <= 1


def test_twelve_steps_and_fractional_losses_get_round_even_ticks() -> None:
    # Losses between 3.196 and 4.67: the labels once read 4.67 and 3.196, and the
    # steps 1, 4, 6, 9, 12.
    snapshots = tuple(
        Snapshot(step=s, epoch=1, mean_loss=4.67 - (4.67 - 3.196) * (s - 1) / 11)
        for s in range(1, 13)
    )
    xs, ys = _tick_labels(svg_chart(snapshots))
    assert xs == ["2", "4", "6", "8", "10", "12"]
    assert ys == ["3.5", "4", "4.5"]


@pytest.mark.parametrize(
    ("lo", "hi", "whole"),
    [(1, 12, True), (1, 19, True), (0, 1000, True), (3.196, 4.67, False), (0.001, 0.0093, False),
     (0.05, 2.31, False), (120.5, 987.25, False)],
)  # fmt: skip
def test_ticks_are_round_evenly_spaced_and_within_range(lo: float, hi: float, whole: bool) -> None:
    ticks = nice_ticks(lo, hi, at_most=6, whole=whole)
    assert 1 <= len(ticks) <= 6
    assert all(lo <= t <= hi for t in ticks)
    labels = [format(Decimal(str(t)).normalize(), "f") for t in ticks]
    assert _even(labels)
    assert all(len(label.replace("-", "").replace(".", "").strip("0")) <= 2 for label in labels)
    if whole:
        assert all(float(t).is_integer() for t in ticks)
