"""Shared state in PostgreSQL: one row per workspace, a session-held lock, fenced writes.

``--state postgresql://user@host/db?schema=reconciler&workspace=default``. The
``schema`` and ``workspace`` query parameters are ours and are removed before
the URI reaches libpq; everything else (host, sslmode, ...) is libpq's. The
password comes from the URI, libpq's environment (PGPASSWORD) or ~/.pgpass and
is never shown: ``display`` drops it, and so does every error message.

Tables (created on first write-side use, ``IF NOT EXISTS``)::

    states         workspace PK, lineage, serial, format_version, document jsonb, updated_by, updated_at
    locks          workspace PK, lock_id, backend_pid, pid, host, command, created_at
    state_history  (workspace, serial) PK, lineage, document, written_at, written_by
    state_journal  (workspace, serial) PK, lineage, models jsonb, written_at, written_by

The ``states`` row holds the latest serial and a document (the snapshot) at
its own serial, possibly older: each state write since then is one
``state_journal`` row with the model records it changed, turning ``serial``
into serial+1, so a write costs the same whatever the number of models. The
snapshot is rewritten (compacted: journal folded in, its rows deleted, a
``state_history`` row added) when a run gives the lock up, when the lock is
taken and a crashed run left journal rows, and when the rows outnumber the
models. A document whose serial equals the row's (every database written
before the journal existed) has no journal to read.

Locking is a session-level advisory lock on a two-integer key (see
``advisory_key``): the server releases it when the holder's connection ends,
so a killed writer never leaves a stuck lock. The ``locks`` row only describes
the holder for messages and ``force-unlock``. The connection and the lock live
in ``pg_session.PostgresSession``; this module stores the document.

Every write is one statement that compares-and-swaps on the serial *and*
checks in ``pg_locks`` that this very session still holds the advisory lock,
with the journal (or history) insert in the same transaction. A writer whose session was
ended (force-unlock, network loss) and that reconnects does not hold the lock
in its new session, so its write matches no row and it stops without damage.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from reconciler.applied import STATE_FORMAT_VERSION, ModelRecord, StateDocument
from reconciler.errors import StateConflictError, StateCorruptError, StateError
from reconciler.state.base import next_serial, parse_document, pushed_document
from reconciler.state.journal_file import Changes, document_fields, with_fields
from reconciler.state.pg_schema import (
    LostConnectionError,
    advisory_key,
    journal_exists,
    parse_location,
)
from reconciler.state.pg_session import PostgresLock, PostgresSession

log = logging.getLogger("reconciler.state")

T = TypeVar("T")

# Journal rows are folded into the document once they outnumber its models (and
# this many): the rewrite then costs at most what the rows cost, so a write's
# cost stays constant on average.
MIN_COMPACT_ROWS = 256


class PostgresBackend(PostgresSession):
    """State of one workspace in a PostgreSQL schema (see the module docstring).

    The connection and the lock come from ``PostgresSession``; this class
    reads and writes the document.
    """

    _journal_count = 0  # journal rows since the document, as this backend last saw

    # -- reading ---------------------------------------------------------

    def _load(self, conn: psycopg.Connection[Any]) -> tuple[StateDocument, bool]:
        """The state (snapshot + journal), read in one consistent snapshot of the database."""
        if not self._ready and not self._tables_exist(conn):
            return StateDocument(), False
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = conn.execute(
                sql.SQL(
                    "SELECT serial, format_version, document FROM {} WHERE workspace = %s"
                ).format(self._t("states")),
                [self.workspace],
            ).fetchone()
            if row is None:
                return StateDocument(), False
            serial, _version, document = row
            source = f"{self.display} (workspace {self.workspace})"
            doc = parse_document(document, source=source)
            entries: list[Any] = []
            if doc.serial != serial:
                entries = self._journal_rows(conn, since=doc.serial, source=source)
        doc = self._replay(doc, entries, serial=serial, source=source)
        self._journal_count = len(entries)
        return doc, True

    def _journal_rows(self, conn: psycopg.Connection[Any], *, since: int, source: str) -> list[Any]:
        if not journal_exists(conn, schema=self.schema):
            raise StateCorruptError(
                f"state {source} has a journal serial but no state_journal table"
            )
        return conn.execute(
            sql.SQL(
                "SELECT serial, lineage, models, fields FROM {} WHERE workspace = %s AND serial >= %s"
                " ORDER BY serial"
            ).format(self._t("state_journal")),
            [self.workspace, since],
        ).fetchall()

    @staticmethod
    def _replay(
        doc: StateDocument, entries: list[Any], *, serial: int, source: str
    ) -> StateDocument:
        """``doc`` (the snapshot) with the journal rows folded in, up to the row's ``serial``."""
        if not entries and doc.serial == serial:
            return doc
        models = dict(doc.models)
        at = doc.serial
        for entry_serial, lineage, changed, fields in entries:
            if entry_serial >= serial:
                break
            if entry_serial != at or lineage != doc.lineage or not isinstance(changed, dict):
                raise StateCorruptError(
                    f"state {source}: journal row for serial {entry_serial} does not follow"
                    f" serial {at} of lineage {doc.lineage}",
                    hint="roll back to a version in state_history with `reconciler state push --force FILE`",
                )
            for name, record in changed.items():
                if record is None:
                    models.pop(name, None)
                else:
                    models[name] = ModelRecord.model_validate(record)
            doc = with_fields(doc, fields, where=f"state {source}: journal row {entry_serial}")
            at += 1
        if at != serial:
            raise StateCorruptError(
                f"state {source} is at serial {serial} but its document and journal reach only {at}",
                hint="roll back to a version in state_history with `reconciler state push --force FILE`",
            )
        return doc.model_copy(update={"models": models, "serial": serial})

    def read(self) -> StateDocument:
        return self._reconnecting(lambda conn: self._load(conn)[0])

    def read_deferred(self) -> StateDocument:
        return self.read()  # the document arrives decoded: nothing to defer

    # -- writing ---------------------------------------------------------

    def _store(
        self, conn: psycopg.Connection[Any], *, expected: StateDocument | None, doc: StateDocument
    ) -> bool:
        """One fenced compare-and-swap of the whole document plus its history row, the
        journal emptied; False when it matched nothing."""
        body = Jsonb(doc.model_dump(mode="json"))
        by = self._writer()
        with conn.transaction():
            if expected is None:
                query = sql.SQL(
                    "INSERT INTO {} (workspace, lineage, serial, format_version, document, updated_by)"
                    " SELECT %s, %s, %s, %s, %s, %s WHERE {} ON CONFLICT (workspace) DO NOTHING RETURNING serial"
                ).format(self._t("states"), self._fence())
                params: list[Any] = [
                    self.workspace,
                    doc.lineage,
                    doc.serial,
                    doc.formatVersion,
                    body,
                    by,
                ]
            else:
                query = sql.SQL(
                    "UPDATE {} SET lineage = %s, serial = %s, format_version = %s, document = %s,"
                    " updated_by = %s, updated_at = now()"
                    " WHERE workspace = %s AND serial = %s AND lineage = %s AND {} RETURNING serial"
                ).format(self._t("states"), self._fence())
                params = [doc.lineage, doc.serial, doc.formatVersion, body, by]
                params += [self.workspace, expected.serial, expected.lineage]
            if conn.execute(query, params).fetchone() is None:
                return False
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, serial, lineage, document, written_by) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (workspace, serial) DO UPDATE SET lineage = EXCLUDED.lineage,"
                    " document = EXCLUDED.document, written_at = now(), written_by = EXCLUDED.written_by"
                ).format(self._t("state_history")),
                [self.workspace, doc.serial, doc.lineage, body, by],
            )
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s").format(self._t("state_journal")),
                [self.workspace],
            )
        self._journal_count = 0
        return True

    def _writer(self) -> str:
        held = self._held
        if held is None:
            return "reconciler"
        return f"reconciler {held.info.command} pid {held.info.pid} on {held.info.host}"

    def _append(
        self, conn: psycopg.Connection[Any], *, doc: StateDocument, changes: Changes
    ) -> int | None:
        """One fenced compare-and-swap of the serial plus its journal row; None when it matched nothing."""
        body = (
            "{"
            + ",".join(
                json.dumps(name) + ":" + ("null" if r is None else r.model_dump_json())
                for name, r in sorted(changes.items())
            )
            + "}"
        )
        by = self._writer()
        with conn.transaction():
            row = conn.execute(
                sql.SQL(
                    "UPDATE {} SET serial = serial + 1, updated_by = %s, updated_at = now()"
                    " WHERE workspace = %s AND serial = %s AND lineage = %s AND {} RETURNING serial"
                ).format(self._t("states"), self._fence()),
                [by, self.workspace, doc.serial, doc.lineage],
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, serial, lineage, fields, models, written_by)"
                    " VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s)"
                ).format(self._t("state_journal")),
                [self.workspace, doc.serial, doc.lineage, document_fields(doc), body, by],
            )
        self._journal_count += 1
        return int(row[0])

    def _refused(self, conn: psycopg.Connection[Any], doc: StateDocument) -> StateConflictError:
        if self._holder_backend(conn) != conn.info.backend_pid:
            return StateConflictError(
                f"this run no longer holds the lock on state {self.display} (its database session ended or"
                " it was force-unlocked); the run stopped without writing",
                hint="rerun to continue from the current state",
            )
        current, _ = self._load(conn)
        return StateConflictError(
            f"state {self.display} changed since it was read (read serial {doc.serial}, stored serial"
            f" {current.serial}); the run stopped without writing",
            hint="rerun to plan against the current state",
        )

    def _fenced(self, attempt: Callable[[psycopg.Connection[Any]], T]) -> T:
        if self._held is None:
            raise StateError(f"writing state {self.display} needs the state lock; none is held")
        return self._reconnecting(attempt)

    def check_lock(self) -> None:
        def attempt(conn: psycopg.Connection[Any]) -> None:
            if self._holder_backend(conn) != conn.info.backend_pid:
                raise StateConflictError(
                    f"this run no longer holds the lock on state {self.display} (its database session"
                    " ended or it was force-unlocked); the run stopped before its next request",
                    hint="rerun to continue from the current state",
                )

        if self._held is None:
            raise StateError(
                f"changing models needs the lock on state {self.display}; none is held"
            )
        self._reconnecting(attempt)

    def write(self, doc: StateDocument) -> StateDocument:
        def attempt(conn: psycopg.Connection[Any]) -> StateDocument:
            self._ensure_schema(conn)
            stored = doc.model_copy(update={"serial": next_serial(doc, display=self.display)})
            expected = doc if doc.serial > 0 else None
            if not self._store(conn, expected=expected, doc=stored):
                raise self._refused(conn, doc)
            return stored

        return self._fenced(attempt)

    def write_records(self, doc: StateDocument, changes: Mapping[str, ModelRecord | None]) -> int:
        serial = next_serial(doc, display=self.display)
        if doc.serial == 0 or self._journal_count >= max(MIN_COMPACT_ROWS, len(doc.models)):
            # The first write makes the row; a long journal is folded into the document.
            models = dict(doc.models)
            for name, record in changes.items():
                if record is None:
                    models.pop(name, None)
                else:
                    models[name] = record
            return self.write(doc.model_copy(update={"models": models})).serial

        def attempt(conn: psycopg.Connection[Any]) -> int:
            self._ensure_schema(conn)
            stored = self._append(conn, doc=doc, changes=changes)
            if stored is None:
                raise self._refused(conn, doc)
            assert stored == serial
            return stored

        return self._fenced(attempt)

    # -- compaction: the lock's hooks -----------------------------------

    def _compact(self, conn: psycopg.Connection[Any]) -> None:
        """Fold the journal into the document, if there is one (lock held)."""
        row = conn.execute(
            sql.SQL(
                "SELECT serial, (document->>'serial')::bigint FROM {} WHERE workspace = %s"
            ).format(self._t("states")),
            [self.workspace],
        ).fetchone()
        if row is None or row[0] == row[1]:
            return
        current, _ = self._load(conn)
        self._store(conn, expected=current, doc=current)

    def _acquired(self, conn: psycopg.Connection[Any]) -> None:
        with contextlib.suppress(StateCorruptError):  # left as it is; reads say why
            self._compact(conn)

    def _releasing(self, conn: psycopg.Connection[Any]) -> None:
        try:
            self._compact(conn)
        except (StateError, psycopg.Error) as exc:  # the journal stays; the next writer folds it in
            log.warning(
                "state %s: the journal was not folded into the document: %s", self.display, exc
            )

    def push(self, doc: StateDocument, *, force: bool) -> StateDocument:
        own = self._held is None
        held = self.lock(command="state push") if own else self._held
        try:

            def attempt(conn: psycopg.Connection[Any]) -> StateDocument:
                try:
                    current, exists = self._load(conn)
                except StateCorruptError:
                    if not force:
                        raise
                    row = conn.execute(
                        sql.SQL("SELECT serial, lineage FROM {} WHERE workspace = %s").format(
                            self._t("states")
                        ),
                        [self.workspace],
                    ).fetchone()
                    assert row is not None
                    current, exists = StateDocument(serial=row[0], lineage=row[1]), True
                stored = pushed_document(current=current, exists=exists, doc=doc, force=force)
                if not self._store(conn, expected=current if exists else None, doc=stored):
                    raise self._refused(conn, current)
                return stored

            return self._fenced(attempt)
        finally:
            if own and held is not None:
                held.release()

    def history(self) -> list[tuple[int, str]]:
        """(serial, lineage) of every stored version of this workspace, oldest first."""
        with self._guard() as conn:
            if not self._tables_exist(conn):
                return []
            rows = conn.execute(
                sql.SQL(
                    "SELECT serial, lineage FROM {} WHERE workspace = %s ORDER BY serial"
                ).format(self._t("state_history")),
                [self.workspace],
            ).fetchall()
        return [(int(s), str(lin)) for s, lin in rows]


__all__ = [
    "STATE_FORMAT_VERSION",
    "LostConnectionError",
    "PostgresBackend",
    "PostgresLock",
    "advisory_key",
    "parse_location",
]
