"""Live values are anyone's text: no terminal escape, bidirectional override or
spreadsheet formula from them reaches the user raw, in any human format."""

from __future__ import annotations

import csv
import io

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model

# An OSC retitling the terminal, an SGR colour, a C1 CSI and a right-to-left override.
HOSTILE = "\x1b]0;pwned\x07\x1b[31mRed\x9b2J\u202eevil"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _assert_escaped(output: str) -> None:
    for character in RAW:
        assert character not in output, repr(character)


def _setup(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    assert ws.apply().returncode == 0
    ws.patch_out_of_band("alpha", displayName=HOSTILE)  # drift, shown by plan and inventory
    ws.create_out_of_band("formula", display_name="=HYPERLINK(1)")


def test_inventory_in_every_human_format_escapes_live_values(ws: Workspace) -> None:
    _setup(ws)
    ws.extra_env["COLUMNS"] = "400"  # the whole cell, not one cut to a narrow terminal
    outputs = {}
    for fmt in ("table", "markdown", "html", "csv"):
        result = ws.cli("inventory", "--format", fmt)
        assert result.returncode == 0, result.stderr
        outputs[fmt] = result.stdout

    for fmt in ("table", "markdown", "html"):
        _assert_escaped(outputs[fmt])
    assert "\\x1b]0;pwned\\x07\\x1b[31mRed\\x9b2J\\u202eevil" in outputs["table"]
    assert "\\u202eevil" in outputs["markdown"]
    assert "\\u202eevil" in outputs["html"]
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(outputs["csv"]))}
    assert rows["tunedModels/formula"]["displayName"] == "'=HYPERLINK(1)"


def test_show_escapes_live_values(ws: Workspace) -> None:
    _setup(ws)

    result = ws.cli("show", "alpha")

    assert result.returncode == 0, result.stderr
    _assert_escaped(result.stdout)
    assert "\\u202eevil" in result.stdout


def test_plan_text_and_markdown_escape_live_values(ws: Workspace) -> None:
    _setup(ws)

    text = ws.cli("plan")
    markdown = ws.cli("plan", "--format", "markdown")

    assert text.returncode == 0, text.stderr
    assert markdown.returncode == 0, markdown.stderr
    assert "~ update in-place TunedModel/alpha" in text.stdout
    _assert_escaped(text.stdout)
    _assert_escaped(markdown.stdout)
    assert "\\u202eevil" in text.stdout
    assert "\\u202eevil" in markdown.stdout
