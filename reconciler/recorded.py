"""A state's model records as stored: kept as text, validated when first used. Pure.

A plan of 10,000 unchanged models reads 10,000 records only to find each one
exactly what the manifests ask for. Building them (40,000 validated objects)
and comparing them field by field is most of what a plan costs beyond loading
the manifests. ``split_snapshot`` therefore keeps each record of a snapshot
as the text the state file stores, and ``StoredRecords`` answers the
planner's one question about an unchanged model, "is this record what a
finished apply of this spec leaves?", by comparing text:

* the record's ``applied`` is byte for byte the canonical JSON of the spec
  (what ``dump_document`` writes for it), so it would validate to a value
  equal to the spec; and
* every other field is a record at rest: no create, operation, replace,
  delete, candidate, retired generation or evaluation under way, its name
  and timestamps plain strings (``SETTLED``, derived from ``ModelRecord``).

Such a record is never built. Any other record is validated in full when it
is first used, and ``check_all`` validates the ones no one used, so a damaged
record is reported wherever it is, with its place (``models.NAME.field``),
as a whole-document read reports it.

Only the canonical layout is split (``dump_document``: pretty JSON, the
models last, their fields in the document's order); anything else returns
None and is read whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from pydantic import ValidationError

from reconciler.applied import ModelRecord
from reconciler.errors import StateCorruptError
from reconciler.spec import AppliedSpec

_MODELS = b'\n  "models": {\n'  # the last field of a canonical document
_END = b"\n    }\n  }\n}"  # the last record's end, the models' and the document's
_RECORD_END = b"\n    }"  # a record's closing brace: only records close at this indent
# A record's name at its place; a name with an escape does not match (the
# count of records closed tells, and the snapshot is then read whole).
_RECORD_START = re.compile(rb'\n    "([^"\\\x00-\x1f]*)": \{\n')
_INDENT = b"\n      "  # an applied spec's own lines, indented to their place


def _settled_patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """A record at rest as ``dump_document`` writes it, from ``ModelRecord``: the part
    before its ``applied`` value (group 1: the live name) and the part after it.

    The name and timestamps are JSON strings without escapes (the text is the
    value), ``preventDestroy`` either boolean; every other field its default.
    A field added to ``ModelRecord`` is part of it.
    """
    sample = ModelRecord(name="@N@", createTime="@C@", updateTime="@U@")
    text = sample.model_dump_json(indent=2).replace("\n", "\n    ")
    plain = r'"([^"\\\x00-\x1f]*)"'
    optional = r'(?:null|"[^"\\\x00-\x1f]*")'
    pattern = (
        re.escape(text)
        .replace(re.escape('"@N@"'), plain)
        .replace(re.escape('"@C@"'), optional)
        .replace(re.escape('"@U@"'), optional)
        .replace(re.escape('"preventDestroy": false'), '"preventDestroy": (?:false|true)')
    )
    head, tail = pattern.split(re.escape("null"), 1)  # the first null is ``applied``'s
    return re.compile(head.encode("utf-8")), re.compile(tail.encode("utf-8"))


SETTLED_HEAD, SETTLED_TAIL = _settled_patterns()


class StoredRecords(Mapping[str, ModelRecord]):
    """Model records by manifest name, each kept as its stored text until it is used.

    A read-only mapping: ``[name]`` validates the record (once) and raises
    ``StateCorruptError`` naming it and the field at fault. ``settled_name``
    settles an unchanged record without building it. ``updated`` folds in
    records changed since (a journal's), as whole records.

    The texts are spans of one snapshot (``data``), cut out only when used.
    """

    def __init__(
        self,
        data: bytes,
        spans: Mapping[str, tuple[int, int]],
        *,
        source: str,
        records: Mapping[str, ModelRecord] | None = None,
    ) -> None:
        self._data = data
        self._spans = dict(spans)
        self._source = source
        self._records: dict[str, ModelRecord] = dict(records or {})
        self._settled: set[str] = set()
        # In the snapshot's order (by name, as written), then the records changed since.
        self._names = dict.fromkeys([*self._spans, *self._records])

    def __getitem__(self, name: str) -> ModelRecord:
        record = self._records.get(name)
        if record is not None:
            return record
        start, end = self._spans[name]  # KeyError: no such record
        try:
            record = ModelRecord.model_validate_json(self._data[start:end])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in ("models", name, *first["loc"]))
            raise StateCorruptError(
                f"state {self._source} is invalid at {where}: {first['msg']}"
                f" ({exc.error_count()} problem(s))",
                hint=f"restore {self._source}.backup or push a good copy with"
                " `reconciler state push --force FILE`",
            ) from exc
        self._records[name] = record
        return record

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def settled_name(self, name: str, spec: AppliedSpec) -> str | None:
        """The live name in the record ``name`` when the record is exactly what a
        finished apply of ``spec`` leaves (see the module docstring); else None.

        None says nothing about the record: the caller then uses ``[name]``.
        """
        span = self._spans.get(name)
        if span is None or name in self._records:
            return None
        start, end = span
        data = self._data
        head = SETTLED_HEAD.match(data, start, end)
        if head is None:
            return None
        applied = head.end()
        canonical = _to_json(spec, indent=2).replace(b"\n", _INDENT)
        if not data.startswith(canonical, applied, end):
            return None
        if SETTLED_TAIL.fullmatch(data, applied + len(canonical), end) is None:
            return None
        try:
            live_name = head.group(1).decode("utf-8")
        except UnicodeDecodeError:
            return None
        self._settled.add(name)
        return live_name

    def check_all(self) -> None:
        """Validate every record neither used nor settled yet (StateCorruptError as ``[name]``)."""
        for name in sorted(self._spans.keys() - self._records.keys() - self._settled):
            self[name]

    def updated(self, changes: Mapping[str, ModelRecord | None]) -> StoredRecords:
        """These records with ``changes`` folded in: replaced whole, or (None) removed."""
        spans = {n: s for n, s in self._spans.items() if n not in changes}
        records = {n: r for n, r in self._records.items() if n not in changes}
        records.update({n: r for n, r in changes.items() if r is not None})
        return StoredRecords(self._data, spans, source=self._source, records=records)


_to_json = AppliedSpec.__pydantic_serializer__.to_json


def split_snapshot(data: bytes) -> tuple[bytes, dict[str, tuple[int, int]]] | None:
    """A canonical snapshot as (the document without its models, where each record's
    text is in ``data``, by name).

    The first part is the document's own JSON with ``"models": {}``. None when
    ``data`` is not laid out as ``dump_document`` writes it (or has no models);
    it is then to be read whole. Pure.

    The layout is recognised by line structure alone: a JSON string holds no
    line break, so a line break followed by a given indent is always structure.
    """
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    at = data.find(_MODELS)
    if at < 0 or not data.endswith(_END, 0, end):
        return None
    models_end = end - len(_END) + len(_RECORD_END)  # just after the last record
    starts = list(_RECORD_START.finditer(data, at + len(_MODELS) - 1, models_end))
    if not starts or data.count(_RECORD_END, at, models_end) != len(starts):
        return None  # a record whose name has an escape
    spans: dict[str, tuple[int, int]] = {}
    for number, match in enumerate(starts):
        stop = starts[number + 1].start() - 1 if number + 1 < len(starts) else models_end
        if not data.startswith(_RECORD_END, stop - len(_RECORD_END), stop):
            return None
        try:
            name = match.group(1).decode("utf-8")
        except UnicodeDecodeError:
            return None
        spans[name] = (match.end() - 2, stop)  # from the record's "{" to its "}"
    if len(spans) != len(starts):
        return None  # a repeated name: read whole, as JSON reads it
    return data[:at] + b'\n  "models": {}\n}', spans
