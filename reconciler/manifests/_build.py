"""Parser events -> plain values with positions, counting every value as it is read.

The values are built straight from the parser's events, never from a
composed node tree: a node tree is built whole before anything can count it,
so a 62 MB ``a: [1, 1, ...]`` used to take a minute and 8 GB of memory
before any limit applied. Here every value read (and every value an alias
stands for) is counted the moment its event arrives, and reading stops at
the first limit passed, after a bounded amount of work:

* ``MAX_VALUES_PER_FILE`` values in a file (documents share it);
* ``MAX_ALIAS_EXPANSION`` values reached again through aliases, per document
  (an alias counts the whole subtree it repeats, without walking it);
* ``MAX_DEPTH`` levels of nesting.

Only plain YAML becomes a value: an explicit tag such as ``!!python/object``
is a located error, never an object. Every key and value gets its position,
keyed by its dotted field path (``spec.tuningTask.hyperparameters.epochCount``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.events import (
    AliasEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

# Values per manifest file, aliases expanded (keys are not counted: each has
# a value). A realistic manifest has tens; an inline dataset of 40,000
# examples has 120,000. Counting stops a file of millions of tiny values (or
# an alias bomb) after a second or two and a hundred MB or so, instead of
# the minutes and gigabytes that building its tree first used to cost; a
# larger dataset belongs in a data file (.jsonl, .json, .csv).
MAX_VALUES_PER_FILE = 250_000
# Values reached again through aliases, per document. Aliases let a few lines
# stand for billions of values ("billion laughs"); real manifests reuse a few
# small anchors.
MAX_ALIAS_EXPANSION = 100_000
# Nesting deeper than this is not a manifest, and would exhaust the stack.
MAX_DEPTH = 100

TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (f"{TAG}{t}" for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP = f"{TAG}timestamp"  # kept as the text written: descriptions are not dates
_MERGE = f"{TAG}merge"
_SEQ, _MAP = f"{TAG}seq", f"{TAG}map"

# Half of a UTF-16 pair, which a "\ud800" escape can spell alone: not text,
# and not encodable for the API, the state or a terminal.
_SURROGATE = re.compile("[\ud800-\udfff]")

# (key line, key column, value line, value column), 1-based.
Position = tuple[int, int, int, int]


class BadValue(Exception):
    """A value that is not accepted, at ``event``'s place; ``path`` names the field."""

    def __init__(self, event: Event, message: str, path: str) -> None:
        super().__init__(message)
        self.line = event.start_mark.line + 1
        self.column = event.start_mark.column + 1
        self.message = message
        self.path = path


@dataclass
class _Anchor:
    value: Any
    path: str  # where it was written (its positions are recorded under it)
    first: int  # its recorded positions: self.recorded[first:last]
    last: int
    values: int  # values it stands for, counted again at each alias
    height: int  # levels of nesting inside it, which an alias adds where it is used
    text: str | None  # a scalar's text as written (for an alias used as a key)


class _Pending:
    """An anchor whose value is still being read (an alias to it is recursive)."""


_PENDING = _Pending()


class Budget:
    """The values a file may still have; shared by its documents."""

    def __init__(self) -> None:
        self.values = MAX_VALUES_PER_FILE


class Builder:
    """Reads one document's events from ``loader`` into plain values and ``positions``."""

    def __init__(self, loader: Any, budget: Budget) -> None:
        self.loader = loader
        self.budget = budget
        self.alias_budget = MAX_ALIAS_EXPANSION
        self.recorded: list[tuple[str, Position]] = []
        self.anchors: dict[str, _Anchor | _Pending] = {}
        self.deepest = 0  # the deepest level reached (for an anchor's height)

    def positions(self) -> dict[str, Position]:
        return dict(self.recorded)

    def build(self, path: str, depth: int) -> Any:
        """The next value in the stream (its events consumed)."""
        return self._value(self.loader.get_event(), path, depth)

    def _value(self, event: Any, path: str, depth: int) -> Any:
        """The value that starts with ``event`` (the rest of its events consumed)."""
        kind = type(event)
        if kind is AliasEvent:
            return self._alias(event, path, depth).value
        budget = self.budget
        budget.values -= 1
        if budget.values < 0:
            self._count(event, 0, aliased=False)  # raises, naming the limit
        if kind is ScalarEvent and event.anchor is None:
            return self._scalar(event, path)  # the common case, kept short
        if depth > MAX_DEPTH:
            raise BadValue(event, f"nesting deeper than {MAX_DEPTH} levels", "")
        self.deepest = max(self.deepest, depth)
        anchor = event.anchor
        if anchor is not None:
            self.anchors[anchor] = _PENDING
            first, counted = len(self.recorded), budget.values
            outer, self.deepest = self.deepest, depth
        if kind is ScalarEvent:
            value = self._scalar(event, path)
        elif kind is SequenceStartEvent:
            self._check_tag(event, _SEQ, path)
            value = self._sequence(path, depth)
        elif kind is MappingStartEvent:
            self._check_tag(event, _MAP, path)
            value = self._mapping(path, depth)
        else:  # the parser guarantees a node here
            raise BadValue(event, "expected a value", path)
        if anchor is not None:
            text = event.value if kind is ScalarEvent else None
            values = counted - budget.values + 1
            height = self.deepest - depth
            self.deepest = max(outer, self.deepest)
            self.anchors[anchor] = _Anchor(
                value, path, first, len(self.recorded), values, height, text
            )
        return value

    def _count(self, event: Event, values: int, *, aliased: bool) -> None:
        self.budget.values -= values
        if aliased:
            self.alias_budget -= values
            if self.alias_budget < 0:
                raise BadValue(
                    event,
                    f"aliases in this document expand to more than {MAX_ALIAS_EXPANSION:,} "
                    "values; write the values out or use fewer aliases",
                    "",
                )
        if self.budget.values < 0:
            raise BadValue(
                event,
                f"more than {MAX_VALUES_PER_FILE:,} values in this file (the limit per "
                "manifest file); split it, or keep large datasets in data files",
                "",
            )

    def _alias(self, event: AliasEvent, path: str, depth: int) -> _Anchor:
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            raise BadValue(
                event, f"alias `*{event.anchor}` has no anchor `&{event.anchor}` before it", path
            )
        if isinstance(anchor, _Pending):
            raise BadValue(event, "an alias refers to its own anchor (recursive YAML)", path)
        self._count(event, anchor.values, aliased=True)
        if depth + anchor.height > MAX_DEPTH:
            raise BadValue(event, f"nesting deeper than {MAX_DEPTH} levels", "")
        self.deepest = max(self.deepest, depth + anchor.height)
        if path != anchor.path:
            strip = len(anchor.path)
            for written, position in self.recorded[anchor.first : anchor.last]:
                self.recorded.append((_moved(written[strip:], path), position))
        return anchor

    def _sequence(self, path: str, depth: int) -> list[Any]:
        items: list[Any] = []
        prefix = f"{path}." if path else ""
        get_event, record = self.loader.get_event, self.recorded.append
        while True:
            event = get_event()
            if type(event) is SequenceEndEvent:
                return items
            mark = event.start_mark
            child = f"{prefix}{len(items)}"
            record((child, (mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 1)))
            items.append(self._value(event, child, depth + 1))

    def _mapping(self, path: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[dict[str, Any]] = []
        lines: dict[str, int] = {}
        own: dict[str, Position] = {}  # positions of the keys written here
        prefix = f"{path}." if path else ""
        get_event = self.loader.get_event
        while True:
            key_event = get_event()
            if type(key_event) is MappingEndEvent:
                break
            key, tag = self._key(key_event, path)
            if tag == _MERGE:
                merged.extend(self._merge_sources(get_event(), path, depth))
                continue
            child = f"{prefix}{key}"
            if key in result:
                raise BadValue(
                    key_event, f"duplicate key `{key}` (first on line {lines[key]})", child
                )
            value_event = get_event()
            key_mark, value_mark = key_event.start_mark, value_event.start_mark
            lines[key] = key_mark.line + 1
            position = (
                key_mark.line + 1,
                key_mark.column + 1,
                value_mark.line + 1,
                value_mark.column + 1,
            )
            self.recorded.append((child, position))
            own[child] = position
            result[key] = self._value(value_event, child, depth + 1)
        if not merged:
            return result
        combined: dict[str, Any] = {}
        for source in reversed(merged):  # `<<: [*a, *b]`: the first one named wins
            combined.update(source)
        # A key written in the mapping wins over a merged one: so does its position.
        self.recorded.extend(own.items())
        return {**combined, **result}

    def _key(self, event: Event, path: str) -> tuple[str, str]:
        """A mapping key as written, and its tag (``<<`` is the merge key)."""
        if isinstance(event, AliasEvent):
            anchor = self._alias(event, path, 0)
            if anchor.text is None:
                raise BadValue(event, "a mapping key must be a plain scalar", path)
            return anchor.text, _STR
        if not isinstance(event, ScalarEvent):
            raise BadValue(event, "a mapping key must be a plain scalar", path)
        return event.value, self._scalar_tag(event)

    def _merge_sources(self, event: Event, path: str, depth: int) -> list[dict[str, Any]]:
        """``<<: *defaults`` or ``<<: [*a, *b]``: mappings whose keys join this one's."""
        if type(event) is not SequenceStartEvent:
            return [self._merge_source(event, path, depth)]
        self._count(event, 1, aliased=False)
        sources: list[dict[str, Any]] = []
        spans: list[list[tuple[str, Position]]] = []
        while True:
            item = self.loader.get_event()
            if type(item) is SequenceEndEvent:
                break
            start = len(self.recorded)
            sources.append(self._merge_source(item, path, depth + 1))
            spans.append(self.recorded[start:])
            del self.recorded[start:]
        for span in reversed(spans):  # the first source named wins: its positions last
            self.recorded.extend(span)
        return sources

    def _merge_source(self, event: Event, path: str, depth: int) -> dict[str, Any]:
        if type(event) not in (AliasEvent, MappingStartEvent):
            raise BadValue(event, "`<<` merges only mappings", path)
        value = self._value(event, path, depth + 1)
        if not isinstance(value, dict):
            raise BadValue(event, "`<<` merges only mappings", path)
        return value

    def _check_tag(
        self, event: SequenceStartEvent | MappingStartEvent, expected: str, path: str
    ) -> None:
        tag = event.tag
        if tag is not None and tag != "!" and tag != expected:
            raise unsupported_tag(event, tag, path)

    def _scalar_tag(self, event: ScalarEvent) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            return str(self.loader.scalar_tag(event.value, event.implicit))
        return str(tag)

    def _scalar(self, event: ScalarEvent, path: str) -> Any:
        tag = self._scalar_tag(event)
        text = event.value
        if tag in (_STR, _TIMESTAMP):
            lone = None if text.isascii() else _SURROGATE.search(text)
            if lone is not None:
                code = f"\\u{ord(lone.group()):04x}"
                message = f"a lone surrogate ({code}) is half of a character, not text"
                raise BadValue(event, message, path)
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() in ("true", "yes", "on", "y")
        if tag not in (_INT, _FLOAT):
            raise unsupported_tag(event, tag, path)
        try:
            return yaml_int(text) if tag == _INT else yaml_float(text)
        except ValueError as exc:
            raise BadValue(event, f"cannot read `{text}` as a number", path) from exc


def _moved(relative: str, path: str) -> str:
    """A field path under an anchor, re-rooted at ``path`` where an alias repeats it."""
    relative = relative.lstrip(".")
    if not relative:
        return path
    return f"{path}.{relative}" if path else relative


def yaml_int(text: str) -> int:
    """YAML 1.2 integers as ruamel's resolver recognises them (``0x``, ``0o``, ``0b``, ``1_000``)."""
    if text.isdigit():
        return int(text)
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if digits.lower().startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits, 10)


def yaml_float(text: str) -> float:
    lowered = text.replace("_", "").lower()
    if lowered.lstrip("+-") == ".inf":
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(lowered)


def unsupported_tag(event: Event, tag: str, path: str) -> BadValue:
    shown = "!!" + tag[len(TAG) :] if tag.startswith(TAG) else tag
    return BadValue(
        event,
        f"unsupported YAML tag `{shown}`: manifests are plain YAML (mappings, lists, "
        "strings, numbers, booleans)",
        path,
    )
