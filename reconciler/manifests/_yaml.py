"""Safe YAML reading: plain values plus the line and column of every key and value.

The parser is ruamel.yaml's (libyaml's C parser when ``ruamel.yaml.clib`` is
installed: about 15x faster than the pure-Python one, which matters for
repositories with thousands of manifests). Its events become plain
``dict``/``list``/scalar values in ``_build``, which counts every value as it
is read, so that no input, however large or however aliased, costs more than
a bounded amount of time and memory before it is refused; and only plain
YAML is accepted.
"""

from __future__ import annotations

import codecs
import importlib
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import StreamEndEvent
from ruamel.yaml.nodes import ScalarNode, SequenceNode
from ruamel.yaml.parser import Parser
from ruamel.yaml.reader import Reader
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scanner import Scanner
from ruamel.yaml.tag import Tag

from reconciler.errors import Diagnostic, SourceLocation
from reconciler.manifests._build import (
    MAX_ALIAS_EXPANSION,
    MAX_DEPTH,
    MAX_VALUES_PER_FILE,
    BadValue,
    Budget,
    Builder,
    Position,
)

# What YAML 1.2 does not allow in a stream (its "printable" set, complemented).
_NOT_YAML_TEXT = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES_PER_FILE",
    "RawDocument",
    "read_documents",
]

# A manifest file larger than this is refused before parsing: nobody writes
# 64 MiB of YAML by hand, and reading it would stall validate for a long time.
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass
class RawDocument:
    """One YAML document of a file, as plain values with positions."""

    file: str  # the path as shown to the user
    index: int  # 0-based position of the document in its file
    line: int  # 1-based line where the document starts
    value: Any
    positions: dict[str, Position] = field(default_factory=dict)

    def location(self, path: str = "", *, key: bool = False) -> SourceLocation:
        """Where ``path`` (or its closest recorded ancestor) is written in the file."""
        probe = path
        while True:
            pos = self.positions.get(probe)
            if pos is not None:
                line, column = (pos[0], pos[1]) if key else (pos[2], pos[3])
                return SourceLocation(self.file, line, column)
            if not probe:
                return SourceLocation(self.file, self.line, 1)
            probe = probe.rpartition(".")[0]


class _FastResolver(VersionedResolver):
    """YAML 1.2 implicit typing (``yes`` is a string), memoised per scalar text.

    ruamel's own resolver recomputes the YAML version for every scalar, which
    was half the time of loading 10,000 manifests; manifests repeat the same
    scalars (keys, model names) thousands of times.
    """

    _table: ClassVar[dict[Any, list[tuple[Any, Any]]]] = VersionedResolver(
        version=(1, 2)
    ).versioned_resolver
    _memo: ClassVar[dict[str, Tag]] = {}
    _text_memo: ClassVar[dict[str, str]] = {}
    _STR_TEXT = "tag:yaml.org,2002:str"
    _MEMO_LIMIT = 100_000

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            tag = self._memo.get(value)
            if tag is None:
                tag = self._implicit(value)
                if len(self._memo) < self._MEMO_LIMIT:
                    self._memo[value] = tag
            return tag
        if kind is ScalarNode:
            return self.DEFAULT_SCALAR_TAG
        if kind is SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        return self.DEFAULT_MAPPING_TAG

    def scalar_tag(self, value: str, implicit: Any) -> str:
        """The tag of an untagged scalar, as text (``tag:yaml.org,2002:int``)."""
        if not implicit[0]:
            return self._STR_TEXT
        text = self._text_memo.get(value)
        if text is None:
            tag = self._implicit(value)
            text = tag.suffix if tag.handle is None and isinstance(tag.suffix, str) else str(tag)
            if len(self._text_memo) < self._MEMO_LIMIT:
                self._text_memo[value] = text
        return text

    def _implicit(self, value: str) -> Tag:
        candidates = self._table.get(value[0] if value else "", []) + self._table.get(None, [])
        for tag, regexp in candidates:
            if regexp.match(value):
                return Tag(suffix=tag)
        return self.DEFAULT_SCALAR_TAG  # type: ignore[no-any-return]


class _PureLoader(Reader, Scanner, Parser, Composer, _FastResolver):
    """The pure-Python composer, used when libyaml's C parser is not installed."""

    max_depth = None  # the composer's own nesting limit; ours is MAX_DEPTH

    def __init__(self, stream: bytes) -> None:
        Reader.__init__(self, stream, loader=self)
        Scanner.__init__(self, loader=self)
        Parser.__init__(self, loader=self)
        Composer.__init__(self, loader=self)
        _FastResolver.__init__(self, loadumper=self)


def _make_loader_class() -> type[Any]:
    try:
        cparser: Any = importlib.import_module("_ruamel_yaml").CParser
    except ImportError:
        return _PureLoader

    class _CLoader(cparser, _FastResolver):  # type: ignore[misc,valid-type]
        def __init__(self, stream: bytes) -> None:
            cparser.__init__(self, stream)
            _FastResolver.__init__(self, loadumper=self)

    return _CLoader


_LOADER = _make_loader_class()
C_PARSER = _LOADER is not _PureLoader


def read_documents(data: bytes, *, display: str) -> tuple[list[RawDocument], list[Diagnostic]]:
    """Split a manifest file into documents; YAML problems become located diagnostics.

    Empty documents (a trailing ``---``, a file of comments) are skipped.
    Reading stops at the first problem: what follows it cannot be trusted.
    """
    if len(data) > MAX_FILE_BYTES:
        return [], [Diagnostic(SourceLocation(display), too_large_message(len(data)))]
    documents: list[RawDocument] = []
    loader: Any = None
    budget = Budget()
    try:
        loader = _LOADER(data)  # the pure-Python reader decodes (and may fail) here
        loader.get_event()  # the stream's start
        while not loader.check_event(StreamEndEvent):
            loader.get_event()  # the document's start
            line = loader.peek_event().start_mark.line + 1  # where its content starts
            builder = Builder(loader, budget)
            try:
                value = builder.build("", 0)
            except BadValue as bad:
                loc = SourceLocation(display, bad.line, bad.column)
                return documents, [Diagnostic(loc, bad.message, field=bad.path or None)]
            loader.get_event()  # the document's end
            if value is None:
                continue  # an empty document
            documents.append(RawDocument(display, len(documents), line, value, builder.positions()))
    except MarkedYAMLError as exc:
        return documents, [_yaml_error(exc, data, display)]
    except YAMLError as exc:  # a reader error: bytes that are not text, or a control character
        return documents, [_not_text(data, display) or _unlocated(exc, display)]
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose is not None:
            dispose()
    return documents, []


def _not_text(data: bytes, display: str) -> Diagnostic | None:
    """Where a file stops being YAML text: the first undecodable byte or forbidden character.

    The reader reports a byte or character offset; people need line:column.
    """
    encoding = "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding != "utf-8-sig":
            return None
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start : exc.start].decode("utf-8", errors="replace")) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        return Diagnostic(
            SourceLocation(display, line, column),
            f"not UTF-8 text: byte 0x{data[exc.start]:02X} cannot be read",
            hint="save the file as UTF-8",
        )
    found = _NOT_YAML_TEXT.search(text)
    if found is None:
        return None
    start = text.rfind("\n", 0, found.start()) + 1
    line = text.count("\n", 0, found.start()) + 1
    code = ord(found.group())
    what = "a NUL byte" if code == 0 else f"the control character U+{code:04X}"
    return Diagnostic(
        SourceLocation(display, line, found.start() - start + 1),
        f"{what} is not allowed in YAML",
        hint='remove it; to write it in a value, use a double-quoted escape such as "\\x00"',
    )


def _unlocated(exc: YAMLError, display: str) -> Diagnostic:
    return Diagnostic(SourceLocation(display), f"invalid YAML: {exc}")


def too_large_message(size: int) -> str:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return f"file is {size / (1024 * 1024):.1f} MiB; manifest files are limited to {limit} MiB"


def _yaml_error(exc: MarkedYAMLError, data: bytes, display: str) -> Diagnostic:
    """The parser's complaint, located, with a hint in the words of the usual mistake."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "cannot parse"
    context = f" ({exc.context})" if exc.context else ""
    if mark is None:
        return Diagnostic(SourceLocation(display), f"invalid YAML: {problem}{context}")
    line_text = _line(data, mark.line)
    column = mark.column
    hint = _hint(problem, line_text, column)
    # The parser's "(while parsing a block mapping)" helps nobody once there is a hint.
    message = f"invalid YAML: {problem}{'' if hint else context}"
    if line_text[column : column + 1] == "\t" or "tab character" in problem:
        message = "invalid YAML: a tab character; YAML is indented with spaces only"
        hint = "replace the tab with spaces"
        column = line_text.find("\t") if "\t" in line_text else column
    elif hint is not None and hint.startswith("check the indentation"):
        column = len(line_text) - len(line_text.lstrip(" "))  # where the misplaced key starts
    elif "end of stream" in problem and "quoted scalar" in (exc.context or ""):
        start = exc.context_mark or mark
        mark, column = start, start.column
        message = "invalid YAML: a quoted string is never closed"
        hint = "add the closing quote"
    return Diagnostic(SourceLocation(display, mark.line + 1, column + 1), message, hint=hint)


def _line(data: bytes, index: int) -> str:
    """Line ``index`` (0-based) of the file as text, for explaining a parse error."""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[index] if 0 <= index < len(lines) else ""


def _hint(problem: str, line_text: str, column: int) -> str | None:
    if problem.startswith("mapping values are not allowed"):
        if ": " in line_text[:column]:
            return 'a value containing `: ` must be quoted, e.g. `key: "a: b"`'
        return "check the indentation: keys of one mapping start in the same column"
    if problem.startswith("did not find expected key"):
        return "check the indentation of this line and the ones above it"
    if problem.startswith("could not find expected ':'"):
        return "each line of a mapping is `key: value`"
    return None
