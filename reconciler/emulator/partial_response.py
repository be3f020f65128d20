"""Partial responses: the ``fields`` system parameter Google APIs accept on every method.

A request names the fields it wants with ``?fields=``, ``?$fields=`` (often
percent-encoded as ``%24fields``) or the ``X-Goog-FieldMask`` header; the answer
then holds those fields and nothing else. The selector syntax is Google's:

* ``a,b``: comma-separated selections;
* ``a/b`` (or ``a.b``, the FieldMask spelling): sub-field ``b`` of ``a``;
* ``a(b,c)``: sub-fields ``b`` and ``c`` of ``a``, nestable (``a(b(c),d)``);
* ``*``: every field at that level;
* a selection inside an array applies to each element (``tunedModels(name)``).

Names may be camelCase or snake_case, as request fields may (``wire.camelize``).

Choices where Google's documentation is silent, made here on purpose:

* The query parameter wins over the header, ``fields`` over ``$fields``; an empty
  value selects everything (the header's documented meaning of "empty").
* A name the response does not have is not an error; the field is just absent.
  (Some Google APIs refuse names that are not in the schema with "Invalid field
  selection X"; the emulator keeps no schema to check against.)
* An object that was selected stays, even if none of its selected sub-fields is
  set (``{"tuningTask": {}}``), as proto field-mask merging leaves an empty
  message set; sub-fields of a scalar select nothing, so the scalar is left out.
* An object with ``@type`` (a ``google.protobuf.Any``) keeps it whenever part of
  it is selected: without it a client cannot decode the rest.
* A malformed selector is 400 INVALID_ARGUMENT, "Invalid field selection
  '<selector>': <reason>.", checked before the handler runs, so a bad selector
  on a create creates nothing. Error answers are never filtered.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from starlette.responses import Response

from reconciler.emulator.wire import JSON_MEDIA_TYPE, ApiError, camel, dumps

# name -> what is selected inside it; None selects the whole value.
Tree = dict[str, "Tree | None"]

HEADER = "x-goog-fieldmask"
QUERY_NAMES = ("fields", "$fields")

_NAME = re.compile(r"\*|@?[A-Za-z_][A-Za-z0-9_]*")
_SEPARATORS = "/."


class _Absent(enum.Enum):
    """Not selected / nothing to keep (an enum member, so the type checker can narrow it)."""

    ABSENT = enum.auto()


_ABSENT = _Absent.ABSENT
Absent = Literal[_Absent.ABSENT]


class FieldMask:
    """A parsed selector; ``select`` keeps the selected fields of a JSON value. Pure.

    ``tree`` None selects the whole value (what ``part`` gives for ``a`` in ``a,b``).
    """

    def __init__(self, tree: Tree | None) -> None:
        self.tree = tree

    @functools.cached_property
    def key(self) -> str:
        """The same text for the same selection however it was spelled (a cache key)."""
        return "" if self.tree is None else json.dumps(self.tree, sort_keys=True)

    def select(self, value: Any) -> Any:
        """``value`` with only the selected fields (a new value; ``value`` is not changed)."""
        result = _select(value, self.tree)
        return {} if result is _ABSENT else result

    def part(self, name: str) -> FieldMask | None:
        """The mask for the value of field ``name`` (for each element of an array), or
        None when the field is not selected at all."""
        if self.tree is None:
            return self
        sub = _child(self.tree, name)
        return None if sub is _ABSENT else FieldMask(sub)

    def reaches(self, *path: str) -> bool:
        """Whether anything at or under ``path`` (camelCase names) can be in the answer.

        Arrays are transparent, as in selections: ``reaches("tunedModels",
        "tuningTask", "snapshots")`` asks about the snapshots of each listed model.
        Handlers use it to skip work whose result the mask would drop.
        """
        tree: Tree | None = self.tree
        for name in path:
            if tree is None:
                return True
            sub = _child(tree, name)
            if sub is _ABSENT:
                return False
            tree = sub
        return True


class Selected(Response):
    """A JSON response whose body already went through the request's mask (not filtered twice)."""


def selected_response(payload: Any, mask: FieldMask) -> Response:
    """``payload`` filtered by ``mask``, as a response the gateway will not filter again."""
    return selected_text(dumps(mask.select(payload)))


def selected_text(text: str) -> Response:
    """JSON text a handler already cut down to the request's mask."""
    return Selected(text.encode(), media_type=JSON_MEDIA_TYPE)


def from_request(query: Mapping[str, str], headers: Mapping[str, str]) -> FieldMask | None:
    """The request's mask, or None when it asks for everything; 400 if malformed."""
    for name in QUERY_NAMES:
        if query.get(name, "").strip():
            return parse(query[name])
    header = headers.get(HEADER, "")
    return parse(header) if header.strip() else None


def filtered(response: Response, mask: FieldMask | None) -> Response:
    """A successful JSON answer cut down to ``mask``; anything else is returned as it is."""
    if (
        mask is None
        or isinstance(response, Selected)
        or response.status_code != 200
        or not response.headers.get("content-type", "").startswith("application/json")
    ):
        return response
    return selected_response(json.loads(bytes(response.body)), mask)


# --------------------------------------------------------------------------- parsing


def parse(text: str) -> FieldMask:
    """Parse a selector such as ``tunedModels(name,tuningTask/startTime),nextPageToken``."""
    parser = _Parser(text)
    tree = parser.selection()
    if parser.peek() == ")":
        raise parser.error("unbalanced parentheses")
    if parser.peek():
        raise parser.unexpected()
    return FieldMask(tree)


# Deeper selections than any response has; the bound keeps the parser off the stack limit.
MAX_DEPTH = 100


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def selection(self, *, nested: bool = False) -> Tree:
        tree: Tree = {}
        while True:
            path, sub = self.item()
            item: Tree = {path[-1]: sub}
            for name in reversed(path[:-1]):
                item = {name: item}
            tree = _union(tree, item)
            self.skip_spaces()
            if self.peek() != ",":
                break
            self.pos += 1
        if nested:
            if not self.peek():
                raise self.error("unbalanced parentheses")
            if self.peek() != ")":
                raise self.unexpected()
            self.pos += 1
        return tree

    def item(self) -> tuple[list[str], Tree | None]:
        path = [self.name()]
        self.skip_spaces()
        while self.peek() and self.peek() in _SEPARATORS:
            self.pos += 1
            path.append(self.name())
            self.skip_spaces()
            if self.depth + len(path) > MAX_DEPTH:
                raise self.error(f"nested deeper than {MAX_DEPTH} levels")
        if self.peek() == "(":
            self.pos += 1
            self.depth += len(path)
            if self.depth > MAX_DEPTH:
                raise self.error(f"nested deeper than {MAX_DEPTH} levels")
            inner = self.selection(nested=True)
            self.depth -= len(path)
            return path, inner
        return path, None

    def name(self) -> str:
        self.skip_spaces()
        found = _NAME.match(self.text, self.pos)
        if found is None:
            if not self.peek() or self.peek() in ",/.()":
                raise self.error(f"empty field name at position {self.pos}")
            raise self.unexpected()
        self.pos = found.end()
        name = found.group()
        return name if name == "*" or name.startswith("@") else camel(name)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek().isspace():
            self.pos += 1

    def unexpected(self) -> ApiError:
        return self.error(f"unexpected {self.peek()!r} at position {self.pos}")

    def error(self, reason: str) -> ApiError:
        shown = self.text if len(self.text) <= 200 else self.text[:200] + "..."
        return ApiError(400, f"Invalid field selection {shown!r}: {reason}.")


# --------------------------------------------------------------------------- selecting


def _merge(a: Tree | None, b: Tree | None) -> Tree | None:
    """Both selections at once: the whole value if either takes it whole."""
    if a is None or b is None:
        return None
    return _union(a, b)


def _union(a: Tree, b: Tree) -> Tree:
    merged = dict(a)
    for name, sub in b.items():
        merged[name] = _merge(merged[name], sub) if name in merged else sub
    return merged


def _child(tree: Tree, name: str) -> Tree | Absent | None:
    """What ``tree`` selects inside field ``name``: a Tree, None (all of it) or _ABSENT."""
    sub = tree.get(name, _ABSENT)
    star = tree.get("*", _ABSENT)
    if star is _ABSENT:
        return sub
    if sub is _ABSENT:
        return star
    return _merge(sub, star)


def _select(value: Any, tree: Tree | None) -> Any:
    if tree is None:
        return value
    if isinstance(value, list):
        items = [_select(item, tree) for item in value]
        kept = [item for item in items if item is not _ABSENT]
        return kept if kept or not value else _ABSENT
    if not isinstance(value, dict):
        return _ABSENT  # sub-fields of a scalar: nothing is selected
    out: dict[str, Any] = {}
    if "@type" in value:
        out["@type"] = value["@type"]
    for name, item in value.items():
        sub = _child(tree, name)
        if sub is _ABSENT:
            continue
        kept = _select(item, sub)
        if kept is not _ABSENT:
            out[name] = kept
    return out
