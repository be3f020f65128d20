"""Text from outside (live API values, server messages) made safe to show. Pure.

A live ``displayName`` is anyone's text: an ESC or OSC sequence in it would
drive the user's terminal (retitle it, hide lines, forge a hyperlink), a
right-to-left override (U+202E) makes a plan line read differently from what
it says, and a CSV cell starting with ``=`` is a formula to a spreadsheet.
Every human format (inventory table, markdown and HTML, ``show``, plan text and
markdown) passes such text through ``printable``. CSV is for scripts and keeps
values as they are, except that ``csv_cell`` keeps a spreadsheet from reading
one as a formula.
"""

from __future__ import annotations

import re

# Every character of the Unicode categories Cc (controls, C0, DEL and C1), Cf
# (format: bidirectional overrides and isolates, zero-width characters, the
# BOM, tag characters), Cs (lone surrogates), Zl and Zp (line and paragraph
# separators), as of Unicode 14 (Python 3.11); a test checks the class against
# ``unicodedata``.
_UNSAFE = re.compile(
    "[\\x00-\\x1f\\x7f-\\x9f\\xad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890-\\u0891"
    "\\u08e2\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f"
    "\\ud800-\\udfff\\ufeff\\ufff9-\\ufffb\\U000110bd\\U000110cd\\U00013430-\\U00013438"
    "\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0001\\U000e0020-\\U000e007f]"
)

# What a spreadsheet reads as the start of a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every control, format and separator character shown as an escape
    (``\\x1b``, ``\\u202e``), so it reads as what it is and cannot act on the terminal."""
    return _UNSAFE.sub(_escaped, text)


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ``'`` before what would start a
    formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return)."""
    return "'" + text if text.startswith(_FORMULA_START) else text
