"""The one escaping function for text from outside, and CSV cells a spreadsheet keeps as text."""

from __future__ import annotations

import sys
import unicodedata

from reconciler.render.escape import csv_cell, printable

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def test_every_control_format_and_separator_character_is_escaped_and_nothing_else() -> None:
    everything = "".join(chr(code) for code in range(sys.maxunicode + 1))
    unsafe = {c for c in everything if unicodedata.category(c) in UNSAFE_CATEGORIES}

    escaped = {c for c in unsafe if printable(c) != c}
    kept = printable("".join(c for c in everything if c not in unsafe))

    assert escaped == unsafe
    assert kept == "".join(c for c in everything if c not in unsafe)


def test_escapes_are_visible_and_say_which_character_it_was() -> None:
    assert printable("\x1b]0;title\x07Red") == "\\x1b]0;title\\x07Red"
    assert printable("abc\u202edef") == "abc\\u202edef"
    assert printable("tag\U000e0041") == "tag\\U000e0041"
    assert printable("Café ✓ 模型") == "Café ✓ 模型"


def test_csv_cells_that_would_start_a_formula_are_kept_as_text() -> None:
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("+1") == "'+1"
    assert csv_cell("-2+3") == "'-2+3"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("\t=1") == "'\t=1"
    assert csv_cell("\r=1") == "'\r=1"
    assert csv_cell("plain-name") == "plain-name"
    assert csv_cell("") == ""
