"""Safe YAML reading: plain values plus the line and column of every key and value.

Documents are composed into nodes by ruamel.yaml (libyaml's C parser when
``ruamel.yaml.clib`` is installed: about 15x faster than the pure-Python one,
which matters for repositories with thousands of manifests) and then turned
into plain ``dict``/``list``/scalar values here rather than by a ruamel
constructor, for three reasons:

* only plain YAML is accepted: an explicit tag such as ``!!python/object`` is
  a located error, never an object;
* aliases are expanded with a budget, so an "alias bomb" (a few lines that
  expand to billions of nodes) stops with an error instead of eating memory;
* every key and value gets its position, keyed by its dotted field path
  (``spec.tuningTask.hyperparameters.epochCount``), so later checks can say
  ``file:line:column`` without ruamel's slower round-trip loader.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.parser import Parser
from ruamel.yaml.reader import Reader
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scanner import Scanner
from ruamel.yaml.tag import Tag

from reconciler.errors import Diagnostic, SourceLocation

# A manifest file larger than this is refused before parsing: nobody writes
# 64 MiB of YAML by hand, and reading it would stall validate for a long time.
MAX_FILE_BYTES = 64 * 1024 * 1024
# Values (after alias expansion) per document. A realistic manifest has tens;
# an inline dataset of 40,000 examples has ~120,000. The limit stops alias
# bombs, which expand exponentially, at a bounded cost.
MAX_NODES_PER_DOCUMENT = 1_000_000
# Values reached again through aliases, per document. Aliases let a few lines
# stand for billions of values ("billion laughs"); real manifests reuse a few
# small anchors, so this stops a bomb after a fraction of a second.
MAX_ALIAS_EXPANSION = 100_000
# Nesting deeper than this is not a manifest, and would exhaust the stack.
MAX_DEPTH = 100

_TAG = "tag:yaml.org,2002:"
_PLAIN_SCALAR_TAGS = {f"{_TAG}str", f"{_TAG}null", f"{_TAG}bool", f"{_TAG}int", f"{_TAG}float"}
_TIMESTAMP_TAG = f"{_TAG}timestamp"  # kept as the text written: descriptions are not dates
_MERGE_TAG = f"{_TAG}merge"

# (key line, key column, value line, value column), 1-based.
Position = tuple[int, int, int, int]


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


class _BadNode(Exception):
    def __init__(self, node: Node, message: str, path: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.path = path


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
    """
    if len(data) > MAX_FILE_BYTES:
        return [], [Diagnostic(SourceLocation(display), too_large_message(len(data)))]
    documents: list[RawDocument] = []
    loader = _LOADER(data)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if isinstance(node, ScalarNode) and _tag(node) == f"{_TAG}null":
                continue  # an empty document
            doc = RawDocument(display, len(documents), node.start_mark.line + 1, None)
            try:
                doc.value = _Converter(doc.positions).convert(node, "", 0)
            except _BadNode as bad:
                loc = SourceLocation(
                    display, bad.node.start_mark.line + 1, bad.node.start_mark.column + 1
                )
                return documents, [Diagnostic(loc, bad.message, field=bad.path or None)]
            documents.append(doc)
    except MarkedYAMLError as exc:
        return documents, [_yaml_error(exc, data, display)]
    except YAMLError as exc:  # e.g. a reader error about bytes that are not text
        return documents, [Diagnostic(SourceLocation(display), f"invalid YAML: {exc}")]
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose is not None:
            dispose()
    return documents, []


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


class _Converter:
    """Nodes -> plain values, recording positions and enforcing the budgets."""

    def __init__(self, positions: dict[str, Position]) -> None:
        self.positions = positions
        self.budget = MAX_NODES_PER_DOCUMENT
        self.alias_budget = MAX_ALIAS_EXPANSION
        self.active: set[int] = set()  # collections on the current path (recursive aliases)
        self.done: set[int] = set()  # collections converted once: meeting one again is an alias

    def convert(self, node: Node, path: str, depth: int, aliased: bool = False) -> Any:
        self.budget -= 1
        aliased = aliased or id(node) in self.done
        if aliased:
            self.alias_budget -= 1
            if self.alias_budget < 0:
                raise _BadNode(
                    node,
                    f"aliases in this document expand to more than {MAX_ALIAS_EXPANSION:,} "
                    "values; write the values out or use fewer aliases",
                    "",
                )
        if self.budget < 0:
            raise _BadNode(
                node,
                f"document expands to more than {MAX_NODES_PER_DOCUMENT:,} values "
                "(through aliases?); split it or remove the aliases",
                "",
            )
        if depth > MAX_DEPTH:
            raise _BadNode(node, f"nesting deeper than {MAX_DEPTH} levels", path)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.active:
            raise _BadNode(node, "an alias refers to its own anchor (recursive YAML)", path)
        self.active.add(id(node))
        self.done.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, f"{_TAG}seq", path)
                items = []
                prefix = f"{path}." if path else ""
                for index, child in enumerate(node.value):
                    child_path = f"{prefix}{index}"
                    mark = child.start_mark
                    self.positions[child_path] = (
                        mark.line + 1,
                        mark.column + 1,
                        mark.line + 1,
                        mark.column + 1,
                    )
                    items.append(self.convert(child, child_path, depth + 1, aliased))
                return items
            assert isinstance(node, MappingNode)
            self._check_tag(node, f"{_TAG}map", path)
            return self._mapping(node, path, depth, aliased)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: MappingNode, path: str, depth: int, aliased: bool) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        for key_node, value_node in node.value:
            if _tag(key_node) == _MERGE_TAG:
                merged.update(self._merge(value_node, path, depth, aliased))
                continue
            if not isinstance(key_node, ScalarNode):
                raise _BadNode(key_node, "a mapping key must be a plain scalar", path)
            key = key_node.value
            child_path = f"{prefix}{key}"
            if key in result:
                first = self.positions[child_path][0]
                raise _BadNode(
                    key_node, f"duplicate key `{key}` (first on line {first})", child_path
                )
            key_mark, value_mark = key_node.start_mark, value_node.start_mark
            self.positions[child_path] = (
                key_mark.line + 1,
                key_mark.column + 1,
                value_mark.line + 1,
                value_mark.column + 1,
            )
            result[key] = self.convert(value_node, child_path, depth + 1, aliased)
        if merged:
            return {**merged, **result}
        return result

    def _merge(self, node: Node, path: str, depth: int, aliased: bool) -> dict[str, Any]:
        """``<<: *defaults`` (or a list of them): keys written in the mapping win."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                raise _BadNode(source, "`<<` merges only mappings", path)
            value = self.convert(source, path, depth + 1, aliased)
            merged.update(value)
        return merged

    def _check_tag(self, node: Node, expected: str, path: str) -> None:
        if _tag(node) != expected:
            raise _unsupported_tag(node, path)

    def _scalar(self, node: ScalarNode, path: str) -> Any:
        tag = _tag(node)
        if tag == f"{_TAG}str":
            return node.value
        if tag == _TIMESTAMP_TAG:
            return node.value
        if tag not in _PLAIN_SCALAR_TAGS:
            if tag == "!":  # the non-specific tag: a quoted-style string
                return node.value
            raise _unsupported_tag(node, path)
        if tag == f"{_TAG}null":
            return None
        if tag == f"{_TAG}bool":
            return node.value.lower() in ("true", "yes", "on", "y")
        try:
            if tag == f"{_TAG}int":
                return _yaml_int(node.value)
            return _yaml_float(node.value)
        except ValueError as exc:
            raise _BadNode(node, f"cannot read `{node.value}` as a number", path) from exc


def _tag(node: Node) -> str:
    """The node's tag as text, without ruamel's slower ``Node.tag`` property."""
    ctag = node.ctag
    if ctag.handle is None and isinstance(ctag.suffix, str):
        return ctag.suffix
    return str(ctag)


def _yaml_int(text: str) -> int:
    """YAML 1.2 integers as ruamel's resolver recognises them (``0x``, ``0o``, ``0b``, ``1_000``)."""
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if digits.lower().startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits, 10)


def _yaml_float(text: str) -> float:
    lowered = text.replace("_", "").lower()
    if lowered.lstrip("+-") == ".inf":
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(lowered)


def _unsupported_tag(node: Node, path: str) -> _BadNode:
    tag = _tag(node)
    shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    return _BadNode(
        node,
        f"unsupported YAML tag `{shown}`: manifests are plain YAML (mappings, lists, "
        "strings, numbers, booleans)",
        path,
    )
