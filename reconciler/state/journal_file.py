"""The state file's journal: record changes appended next to the snapshot.

``state.json.journal`` holds one line per state write since the snapshot
(``state.json``) was last rewritten::

    <crc32 of the JSON, 8 hex digits> {"lineage": L, "serial": S, "fields": {...}, "models": {NAME: RECORD | null}}

An entry turns the state at serial ``S`` into serial ``S + 1`` by replacing
(or, with ``null``, removing) the named model records, stored whole, and by
setting the document's own fields (``fields``: all but the serial and the
models, e.g. the endpoint it was written for); so a field added to the records
or the document needs nothing here. Appending one entry and
flushing it costs the same whatever the number of models, where rewriting the
snapshot costs the whole state.

Reading is the snapshot, then every entry in order:

- an entry for a serial below the snapshot's was already folded into it (a
  crash between rewriting the snapshot and emptying the journal) and is
  skipped;
- a last entry whose checksum does not match, or that has no line end, is
  what a crash in the middle of an append leaves: it was never acknowledged,
  so it is ignored;
- anything else that does not fit (a damaged entry before the last, a gap in
  the serials, another lineage) is refused with an error naming the entry;
  the files are left untouched for a person to look at.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from reconciler.applied import ModelRecord, StateDocument
from reconciler.errors import StateCorruptError
from reconciler.recorded import StoredRecords

Changes = Mapping[str, ModelRecord | None]


def document_fields(doc: StateDocument) -> str:
    """The JSON of ``doc``'s own fields: everything but the serial and the models. Pure."""
    return doc.model_dump_json(exclude={"serial", "models"})


def with_fields(doc: StateDocument, fields: object, *, where: str) -> StateDocument:
    """``doc`` with its own fields set from an entry's ``fields`` (validated). Pure."""
    if not isinstance(fields, dict):
        raise StateCorruptError(f"{where} has no document fields")
    try:
        checked = StateDocument.model_validate({**fields, "serial": doc.serial})
    except ValidationError as exc:
        raise StateCorruptError(
            f"{where} has invalid document fields: {exc.errors()[0]['msg']}"
        ) from exc
    update = {name: getattr(checked, name) for name in fields if name not in ("serial", "models")}
    if "target" not in fields and doc.target is not None:
        update["target"] = None  # left out of the JSON when unset (a Gemini API state)
    return doc.model_copy(update=update) if update else doc


def encode_entry(*, doc: StateDocument, changes: Changes) -> bytes:
    """One journal line for ``changes`` applied to ``doc`` (the state at its serial). Pure."""
    parts = []
    for name in sorted(changes):
        record = changes[name]
        parts.append(
            json.dumps(name) + ":" + ("null" if record is None else record.model_dump_json())
        )
    body = (
        '{"lineage":'
        + json.dumps(doc.lineage)
        + ',"serial":'
        + str(doc.serial)
        + ',"fields":'
        + document_fields(doc)
        + ',"models":{'
        + ",".join(parts)
        + "}}"
    ).encode("utf-8")
    return b"%08x " % zlib.crc32(body) + body + b"\n"


@dataclass(frozen=True)
class Replayed:
    """What reading a journal found."""

    document: StateDocument
    entries: int  # entries folded in
    good_length: int  # bytes up to the end of the last readable entry
    torn: bool  # a damaged last entry was ignored


def _entry(line: bytes) -> dict[str, object] | None:
    """The decoded entry, or None when its checksum or framing is wrong."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def replay(doc: StateDocument, data: bytes, *, source: str) -> Replayed:
    """The state ``doc`` (the snapshot) with the journal ``data`` folded in. Pure.

    Builds a new document; ``doc`` is not changed. ``source`` names the
    journal file in errors.
    """
    hint = (
        f"look at {source}: restore the state's .backup and remove the journal, or push a good"
        " copy with `reconciler state push --force FILE`"
    )
    changes: dict[str, ModelRecord | None] = {}  # the last change of each record
    serial = doc.serial
    entries = 0
    offset = 0
    torn = False
    number = 0
    while offset < len(data):
        number += 1
        end = data.find(b"\n", offset)
        last = end == -1 or end + 1 >= len(data)
        line = data[offset : len(data) if end == -1 else end]
        entry = _entry(line) if end != -1 else None
        if entry is None:
            if last:
                torn = True
                break
            raise StateCorruptError(
                f"state journal {source} entry {number} (line {number}) is damaged: its checksum"
                " does not match and later entries follow it, so it is not a torn last write",
                hint=hint,
            )
        at = entry.get("serial")
        if (
            not isinstance(at, int)
            or isinstance(at, bool)
            or not isinstance(entry.get("models"), dict)
        ):
            raise StateCorruptError(
                f"state journal {source} entry {number} is not a state change", hint=hint
            )
        if at < doc.serial:  # already in the snapshot
            offset = end + 1
            continue
        if at != serial:
            raise StateCorruptError(
                f"state journal {source} entry {number} is for serial {at}, but the state is at"
                f" serial {serial} there (a gap: an entry is missing, or the state file was replaced)",
                hint=hint,
            )
        if entry.get("lineage") != doc.lineage:
            raise StateCorruptError(
                f"state journal {source} entry {number} belongs to lineage {entry.get('lineage')},"
                f" not the state's {doc.lineage}",
                hint=hint,
            )
        if "fields" in entry:
            doc = with_fields(doc, entry["fields"], where=f"state journal {source} entry {number}")
        changed = entry["models"]
        assert isinstance(changed, dict)
        for name, record in changed.items():
            if record is None:
                changes[name] = None
                continue
            try:
                changes[name] = ModelRecord.model_validate(record)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise StateCorruptError(
                    f"state journal {source} entry {number} has an invalid record {name}"
                    f" at {where}: {first['msg']}",
                    hint=hint,
                ) from exc
        serial += 1
        entries += 1
        offset = end + 1
    document = doc
    if entries:
        models: Mapping[str, ModelRecord]
        if isinstance(doc.models, StoredRecords):  # the snapshot's records kept as text
            models = doc.models.updated(changes)
        else:
            folded = dict(doc.models)
            for name, record in changes.items():
                if record is None:
                    folded.pop(name, None)
                else:
                    folded[name] = record
            models = folded
        document = doc.model_copy(update={"models": models, "serial": serial})
    return Replayed(document=document, entries=entries, good_length=offset, torn=torn)
