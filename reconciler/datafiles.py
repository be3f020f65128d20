"""Reading one training data file (``.jsonl``, ``.json``, ``.csv``) into examples.

Each problem is a located ``Diagnostic`` (``data/x.jsonl:5312: ...``) so that
one run reports all of them; nothing here raises for bad data. Files are read
through ``repofiles.read_regular_file`` (regular files only, bounded size),
and whatever JSON or a spreadsheet would silently lose (a key or a column
written twice, a lone surrogate, nesting a stack cannot hold) is an error
naming its line.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.datasets import canonical_text
from reconciler.errors import Diagnostic, SourceLocation
from reconciler.repofiles import UnreadableFile, read_regular_file
from reconciler.spec import Example

# A data file larger than this is refused before reading: the service limits
# training data far below it, and reading it would stall validate.
MAX_DATA_FILE_BYTES = 256 * 1024 * 1024
# Problems reported per data file; a wrongly formatted 50,000-line file would
# otherwise print 50,000 identical lines.
MAX_PROBLEMS_PER_FILE = 20

# The JSON decoder nests one Python call per level: far deeper than any
# example object, a file nested 100,000 levels deep would exhaust the stack.
TOO_DEEP = "invalid JSON: nested too deeply (an example is one flat object)"
# Half of a UTF-16 pair, which JSON's \u escapes can spell alone: not text,
# and not encodable for the hash or the API.
_SURROGATE = re.compile("[\ud800-\udfff]")

DEFAULT_INPUT_FIELDS: tuple[str, ...] = ("textInput", "text_input", "input")
DEFAULT_OUTPUT_FIELDS: tuple[str, ...] = ("output",)
DATA_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".json", ".csv")
_JSON_TYPE_NAMES = {
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
    list: "list",
    dict: "object",
}


@dataclass(frozen=True)
class DataFileResult:
    examples: list[Example]
    diagnostics: list[Diagnostic]


def read_data_file(
    path: Path,
    *,
    display: str,
    input_field: str | None = None,
    output_field: str | None = None,
) -> DataFileResult:
    """Examples of a ``.jsonl``, ``.json`` (a list of objects) or ``.csv`` (with header) file."""
    suffix = path.suffix.lower()
    if suffix not in DATA_FILE_SUFFIXES:
        message = f"unsupported data file type `{suffix or path.name}`: use .jsonl, .json or .csv"
        return DataFileResult([], [Diagnostic(SourceLocation(display), message)])
    try:
        data = read_regular_file(path, max_bytes=MAX_DATA_FILE_BYTES, what="data file")
    except UnreadableFile as exc:
        return DataFileResult([], [Diagnostic(SourceLocation(display), str(exc))])
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"data file is not UTF-8 text (byte {exc.start:,} cannot be read)"
        hint = "save it as UTF-8; in Excel, as CSV UTF-8"
        return DataFileResult([], [Diagnostic(SourceLocation(display, line), message, hint=hint)])
    reader = _Records(display=display, input_field=input_field, output_field=output_field)
    if suffix == ".jsonl":
        reader.read_jsonl(text)
    elif suffix == ".json":
        reader.read_json(text)
    else:
        reader.read_csv(text)
    return DataFileResult(reader.examples, reader.finish())


def _decode(data: bytes) -> str:
    """UTF-8 (a byte-order mark, as Excel and Notepad write, is dropped), or UTF-16 with its mark.

    Excel's "Unicode Text" export is UTF-16; it is read rather than refused,
    since the examples (and so the dataset's hash) are the same either way.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


class _Records:
    """Turns records (dicts with a line number) into examples, collecting problems."""

    def __init__(self, *, display: str, input_field: str | None, output_field: str | None) -> None:
        self.display = display
        self.input_fields = (input_field,) if input_field else DEFAULT_INPUT_FIELDS
        self.output_fields = (output_field,) if output_field else DEFAULT_OUTPUT_FIELDS
        self.examples: list[Example] = []
        self.problems: list[Diagnostic] = []
        self.dropped = 0

    def problem(
        self, line: int, message: str, hint: str | None = None, *, severity: str = "error"
    ) -> None:
        if len(self.problems) < MAX_PROBLEMS_PER_FILE:
            where = SourceLocation(self.display, line)
            self.problems.append(Diagnostic(where, message, severity=severity, hint=hint))
        else:
            self.dropped += 1

    def finish(self) -> list[Diagnostic]:
        if self.dropped:
            message = f"{self.dropped} more problems in this file not shown"
            self.problems.append(Diagnostic(SourceLocation(self.display), message))
        return self.problems

    def read_jsonl(self, text: str) -> None:
        # Only "\n" ends a record: str.splitlines() would also split at U+2028
        # and other separators that JSON strings may hold unescaped.
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.removesuffix("\r")
            if not line.strip():
                continue
            try:
                record = _DECODER.decode(line)
            except json.JSONDecodeError as exc:
                self.problem(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            except _DuplicateKey as exc:
                self.problem(number, exc.message)
                continue
            except RecursionError:
                self.problem(number, TOO_DEEP)
                continue
            self.record(record, number)

    def read_json(self, text: str) -> None:
        """A JSON list of objects; each object's line is found by decoding item by item."""
        decoder = _DECODER
        start = len(text) - len(text.lstrip())
        if not text.startswith("[", start):
            self.problem(1, "a .json dataset must be a list of objects ([{...}, ...])")
            return
        pos = start + 1
        while True:
            pos = _skip_space(text, pos)
            if text.startswith("]", pos):
                return
            line = text.count("\n", 0, pos) + 1
            try:
                record, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                self.problem(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
                return
            except RecursionError:
                self.problem(line, TOO_DEEP)
                return
            except _DuplicateKey as exc:
                self.problem(line, exc.message)
                pos = _end_of_item(text, pos)
                if pos < 0:
                    return
                record = None
            if record is not None:
                self.record(record, line)
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos += 1
            elif not text.startswith("]", pos):
                line = text.count("\n", 0, pos) + 1
                self.problem(line, "invalid JSON: expected `,` or `]` after a list item")
                return

    def read_csv(self, text: str) -> None:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
        try:
            header = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            self.problem(1, f"invalid CSV: {exc}")
            return
        self.duplicate_columns(header)
        for role, names in (("input", self.input_fields), ("output", self.output_fields)):
            if not any(name in header for name in names):
                wanted = " or ".join(f"`{n}`" for n in names)
                close = difflib.get_close_matches(names[0], header, n=1)
                hint = (
                    f"did you mean `{close[0]}`? set {role}Field: {close[0]}"
                    if close
                    else f"set {role}Field to the column's name"
                )
                columns = ", ".join(header)
                self.problem(1, f"no {role} column {wanted} (columns: {columns})", hint)
        if any(p.severity == "error" for p in self.problems):
            return
        end = rows.line_num
        try:
            for row in rows:
                start, end = end + 1, rows.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    self.problem(start, f"row has {len(row)} columns; the header has {len(header)}")
                    continue
                self.record(dict(zip(header, row, strict=True)), start)
        except csv.Error as exc:
            self.problem(rows.line_num, f"invalid CSV: {exc}")

    def duplicate_columns(self, header: list[str]) -> None:
        """A column named twice: a row would silently keep only its last cell."""
        first: dict[str, int] = {}
        for number, name in enumerate(header, start=1):
            if name not in first:
                first[name] = number
                continue
            used = name in self.input_fields or name in self.output_fields
            self.problem(
                1,
                f"duplicate column `{name}` (columns {first[name]} and {number})"
                + ("" if used else "; only the last is kept"),
                "rename one of them" + ("" if used else ", or remove it"),
                severity="error" if used else "warning",
            )

    def record(self, record: Any, line: int) -> None:
        if not isinstance(record, dict):
            kind = _JSON_TYPE_NAMES.get(type(record), type(record).__name__)
            self.problem(line, f"an example must be an object, got {kind}")
            return
        text_input = self.field(record, self.input_fields, line, "input")
        output = self.field(record, self.output_fields, line, "output")
        if text_input is None or output is None:
            return
        where = SourceLocation(self.display, line)
        self.examples.append(Example(canonical_text(text_input), canonical_text(output), where))

    def field(
        self, record: dict[str, Any], names: tuple[str, ...], line: int, role: str
    ) -> str | None:
        for name in names:
            if name in record:
                value = record[name]
                if not isinstance(value, str):
                    kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
                    hint = (
                        f"quote it: {json.dumps(name)}: {json.dumps(json.dumps(value))}"
                        if isinstance(value, int | float) and not isinstance(value, bool)
                        else None
                    )
                    self.problem(line, f"`{name}` must be a string, got {kind}", hint)
                    return None
                surrogate = _SURROGATE.search(value)
                if surrogate is not None:
                    code = f"\\u{ord(surrogate.group()):04x}"
                    self.problem(
                        line,
                        f"`{name}` holds a lone surrogate ({code}): half of a character, not text",
                        "write the character itself, or both halves of its \\u escape pair",
                    )
                    return None
                if role == "output" and not value.strip():
                    self.problem(line, f"example has an empty `{name}`")
                    return None
                return value
        wanted = " or ".join(f"`{n}`" for n in names)
        close = difflib.get_close_matches(names[0], [str(k) for k in record], n=1)
        hint = f"did you mean `{close[0]}`? set {role}Field: {close[0]}" if close else None
        self.problem(line, f"example has no {role} ({wanted})", hint)
        return None


class _DuplicateKey(Exception):
    """An object with a key written twice (JSON keeps only the last: a silent loss)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.message = f"duplicate key `{key}` in an example; JSON would keep only the last"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _end_of_item(text: str, pos: int) -> int:
    """Where the list item at ``pos`` ends, read again without the duplicate check (-1 if never)."""
    try:
        return json.JSONDecoder().raw_decode(text, pos)[1]
    except (ValueError, RecursionError):
        return -1


def _delimiter(text: str) -> str:
    """``,``, or ``;`` / tab when the header uses that instead.

    Excel writes ``;``-separated "CSV" where the decimal separator is a comma,
    and tab-separated text from its "Unicode Text" export.
    """
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
