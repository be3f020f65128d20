"""Training datasets: reading data files, checking examples, and the canonical hash.

A dataset's identity is the hash of its canonical example list, never of the
bytes of a file: the API never returns training data, so the hash recorded in
the state at creation is the only way to tell that the data changed, and
reformatting a JSONL file, reordering keys or moving the same examples from
CSV to JSONL must not look like a change (which would replace a model).

Problems are returned as located ``Diagnostic`` values (``data/x.jsonl:5312:
...``) so that one run reports all of them; nothing here raises for bad data.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import Diagnostic, SourceLocation
from reconciler.repofiles import (
    SYMLINK_LOOP,
    UnreadableFile,
    read_regular_file,
    real_path,
    resolved_root,
)
from reconciler.spec import Example, LoadedDataset

# Service limits per example (gemini-api-wire-facts.md; the API rejects the
# whole create otherwise, after the user has waited for the upload).
MAX_INPUT_CHARS = 40_000
MAX_OUTPUT_CHARS = 5_000
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


def canonical_text(value: str) -> str:
    """A value with its line endings as ``\n``, whatever the file or checkout used. Pure.

    A CSV with a quoted multi-line field, checked out on Windows with
    ``core.autocrlf``, holds ``\r\n`` inside the value: without this the
    dataset's hash would change and the model be replaced (re-tuned) for a
    checkout setting. A lone ``\r`` (old Mac line endings) counts as a line
    ending too. Every source of examples (inline, JSONL, JSON, CSV) goes
    through here, so the text sent to the API is the text hashed.
    """
    if "\r" not in value:
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def canonical_hash(examples: Sequence[Example]) -> str:
    """``sha256:<hex>`` of the ordered (textInput, output) pairs. Pure.

    The serialization is compact JSON of ``[[input, output], ...]`` with
    non-ASCII kept as UTF-8: stable across file formats and formatting.
    """
    pairs = [[e.text_input, e.output] for e in examples]
    text = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_dataset(
    *, name: str, examples: Sequence[Example], location: SourceLocation
) -> LoadedDataset:
    """The loaded dataset with its hash and size statistics. Pure."""
    return LoadedDataset(
        name=name,
        hash=canonical_hash(examples),
        examples=tuple(examples),
        location=location,
        max_input_chars=max((len(e.text_input) for e in examples), default=0),
        max_output_chars=max((len(e.output) for e in examples), default=0),
    )


def check_examples(
    examples: Sequence[Example], *, name: str, location: SourceLocation
) -> list[Diagnostic]:
    """Empty datasets and service limits are errors; duplicate examples a warning. Pure."""
    if not examples:
        return [Diagnostic(location, f"dataset `{name}` has no examples")]
    found: list[Diagnostic] = []
    seen: dict[tuple[str, str], Example] = {}
    duplicates: list[tuple[Example, Example]] = []
    for index, example in enumerate(examples, start=1):
        where = example.location or location
        if len(example.text_input) > MAX_INPUT_CHARS:
            found.append(
                Diagnostic(
                    where,
                    f"example {index} input is {len(example.text_input):,} characters; "
                    f"the service accepts at most {MAX_INPUT_CHARS:,}",
                )
            )
        if len(example.output) > MAX_OUTPUT_CHARS:
            found.append(
                Diagnostic(
                    where,
                    f"example {index} output is {len(example.output):,} characters; "
                    f"the service accepts at most {MAX_OUTPUT_CHARS:,}",
                )
            )
        key = (example.text_input, example.output)
        first = seen.setdefault(key, example)
        if first is not example:
            duplicates.append((example, first))
    if duplicates:
        again, first = duplicates[0]
        repeats = f" repeats {_where(first)}" if first.location else ""
        found.append(
            Diagnostic(
                again.location or location,
                f"dataset `{name}` has {len(duplicates)} duplicate example"
                f"{'s' if len(duplicates) > 1 else ''} (first: this one{repeats})",
                severity="warning",
            )
        )
    return found


def _where(example: Example) -> str:
    loc = example.location
    return f"line {loc.line}" if loc and loc.line else "an earlier example"


@dataclass(frozen=True)
class DataFileResult:
    examples: list[Example]
    diagnostics: list[Diagnostic]


@dataclass(frozen=True)
class DataFileProblem:
    message: str
    hint: str | None = None


def resolve_data_file(
    file: str, *, manifest_dir: Path, root: Path, allow_outside_root: bool
) -> tuple[Path, DataFileProblem | None]:
    """The data file's real path, and the problem if it reaches outside ``root`` or loops.

    Symlinks are resolved before comparing (``repofiles.confine``, the rule
    manifest files and directories follow too), so a link inside the
    repository that points at ``/etc`` is caught, and a loop of links is an
    error rather than a crash. A missing file comes back as the path it would
    have; the caller reports it as not found.
    """
    joined = manifest_dir / file
    real, problem = real_path(joined)
    if problem == SYMLINK_LOOP:
        return joined, DataFileProblem(f"data file `{file}`: {SYMLINK_LOOP}")
    if real is None:  # missing (or a broken link): the caller reports it as not found
        real = Path(os.path.realpath(joined))
    if allow_outside_root or real.is_relative_to(resolved_root(root)):
        return real, None
    return real, DataFileProblem(
        f"data file `{file}` is outside the repository root",
        "keep training data inside the repository, or pass --allow-outside-root",
    )


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

    def problem(self, line: int, message: str, hint: str | None = None) -> None:
        if len(self.problems) < MAX_PROBLEMS_PER_FILE:
            self.problems.append(Diagnostic(SourceLocation(self.display, line), message, hint=hint))
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
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                self.problem(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            except RecursionError:
                self.problem(number, TOO_DEEP)
                continue
            self.record(record, number)

    def read_json(self, text: str) -> None:
        """A JSON list of objects; each object's line is found by decoding item by item."""
        decoder = json.JSONDecoder()
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
        if self.problems:
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
