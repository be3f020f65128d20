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

Locking is a session-level advisory lock on a two-integer key (see
``advisory_key``): the server releases it when the holder's connection ends,
so a killed writer never leaves a stuck lock. The ``locks`` row only describes
the holder for messages and ``force-unlock``. The connection and the lock live
in ``pg_session.PostgresSession``; this module stores the document.

Every write is one statement that compares-and-swaps on the serial *and*
checks in ``pg_locks`` that this very session still holds the advisory lock,
with the history insert in the same transaction. A writer whose session was
ended (force-unlock, network loss) and that reconnects does not hold the lock
in its new session, so its write matches no row and it stops without damage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from reconciler.applied import STATE_FORMAT_VERSION, StateDocument
from reconciler.errors import StateConflictError, StateCorruptError, StateError
from reconciler.state.base import next_serial, parse_document, pushed_document
from reconciler.state.pg_schema import LostConnectionError, advisory_key, parse_location
from reconciler.state.pg_session import PostgresLock, PostgresSession


class PostgresBackend(PostgresSession):
    """State of one workspace in a PostgreSQL schema (see the module docstring).

    The connection and the lock come from ``PostgresSession``; this class
    reads and writes the document.
    """

    # -- reading ---------------------------------------------------------

    def _load(self, conn: psycopg.Connection[Any]) -> tuple[StateDocument, bool]:
        if not self._ready and not self._tables_exist(conn):
            return StateDocument(), False
        row = conn.execute(
            sql.SQL("SELECT serial, format_version, document FROM {} WHERE workspace = %s").format(
                self._t("states")
            ),
            [self.workspace],
        ).fetchone()
        if row is None:
            return StateDocument(), False
        serial, _version, document = row
        source = f"{self.display} (workspace {self.workspace})"
        doc = parse_document(document, source=source)
        if doc.serial != serial:
            raise StateCorruptError(
                f"state {source} has serial {doc.serial} in its document but {serial} in its row"
            )
        return doc, True

    def read(self) -> StateDocument:
        return self._reconnecting(lambda conn: self._load(conn)[0])

    # -- writing ---------------------------------------------------------

    def _store(
        self, conn: psycopg.Connection[Any], *, expected: StateDocument | None, doc: StateDocument
    ) -> bool:
        """One fenced compare-and-swap plus its history row; False when it matched nothing."""
        held = self._held
        by = (
            f"reconciler {held.info.command} pid {held.info.pid} on {held.info.host}"
            if held
            else "reconciler"
        )
        body = Jsonb(doc.model_dump(mode="json"))
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
                ).format(self._t("state_history")),
                [self.workspace, doc.serial, doc.lineage, body, by],
            )
        return True

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

    def _fenced(self, attempt: Callable[[psycopg.Connection[Any]], StateDocument]) -> StateDocument:
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
