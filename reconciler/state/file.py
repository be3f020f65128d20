"""The local state file: a snapshot, a journal of changes, a backup, and a real OS lock.

Layout next to the state (default ``.reconciler/state.json``)::

    state.json          the snapshot (canonical JSON)
    state.json.journal  record changes written since the snapshot (see ``journal_file``)
    state.json.backup   the snapshot before the last time it was rewritten
    state.json.lock     the writer lock (see ``file_lock``)

A state write appends one entry to the journal and flushes it (``fdatasync``)
before returning, so it costs the same at 10 models and at 100,000; the
snapshot is rewritten (compacted: the journal folded in, the journal emptied)
when the lock is given up, when the lock is taken and a crashed run left a
journal, and when the journal outgrows the snapshot. Readers see snapshot +
journal as one state, and never write.

A write is a compare-and-swap on the serial: the holder remembers which
snapshot (inode, size, mtime) and which journal length it last wrote or read,
and anything else found there is read in full and its serial compared.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.applied import ModelRecord, StateDocument
from reconciler.errors import StateConflictError, StateCorruptError, StateError
from reconciler.recorded import StoredRecords, split_snapshot
from reconciler.state.base import dump_document, next_serial, parse_text, pushed_document
from reconciler.state.file_lock import FileLock, FileLocking
from reconciler.state.files import (
    atomic_write,
    check_directory,
    fsync_dir,
    open_nofollow,
    os_failure,
    read_nofollow,
    refuse_link,
)
from reconciler.state.journal_file import encode_entry, replay

log = logging.getLogger("reconciler.state")

# The journal is folded into the snapshot once it is larger than the snapshot
# (and at least this big): compaction then costs at most twice what the
# journal entries cost to write, so a write's cost stays constant on average.
MIN_COMPACT_BYTES = 1 << 20
# A read that raced a compaction is retried (the writer is quick about it).
READ_ATTEMPTS = 5


@dataclass(frozen=True)
class _Seen:
    """The stored state as this backend last wrote or read it."""

    snapshot: tuple[int, int, int] | None  # (inode, size, mtime_ns) of state.json; None: absent
    journal: int  # bytes of the journal folded in (0: none)
    serial: int
    lineage: str


class FileBackend(FileLocking):
    """State in a local JSON file and its journal (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(path, clock=clock, sleep=sleep)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self._seen: _Seen | None = None
        self._journal_fd: int | None = None
        self._snapshot_size = 0

    # -- reading ---------------------------------------------------------

    def _snapshot_identity(self) -> tuple[int, int, int] | None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _parse(self, data: bytes) -> StateDocument:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StateCorruptError(
                f"state {self.display} is not UTF-8 text",
                hint=f"restore {self.display}.backup or push a good copy with `reconciler state push --force FILE`",
            ) from exc
        return parse_text(text, source=self.display)

    def _read_bytes(self, path: Path, *, what: str) -> bytes | None:
        check_directory(self.path.parent)
        try:
            return read_nofollow(path, what=what)
        except OSError as exc:
            raise os_failure(exc, doing="read", display=self.display) from None

    def _load(self, *, deferred: bool = False) -> tuple[StateDocument, bool, bool]:
        """(state, a snapshot exists, the journal had a torn last entry).

        A writer may fold the journal into a new snapshot while this reads;
        the snapshot's identity before and after tells, and the read is retried.
        ``deferred``: see ``read_deferred``.
        """
        for _ in range(READ_ATTEMPTS):
            identity = self._snapshot_identity()
            data = self._read_bytes(self.path, what="state file")
            journal = self._read_bytes(self.journal_path, what="state journal") or b""
            if self._snapshot_identity() == identity:
                break
        return self._loaded(identity, data, journal, deferred=deferred)

    def _loaded(
        self,
        identity: tuple[int, int, int] | None,
        data: bytes | None,
        journal: bytes,
        *,
        deferred: bool = False,
    ) -> tuple[StateDocument, bool, bool]:
        if data is None:
            if journal:
                raise StateCorruptError(
                    f"state {self.display} is missing but its journal {self.journal_path} is not",
                    hint="restore the state file from its .backup, or remove the journal to start afresh",
                )
            self._seen = None
            return StateDocument(), False, False
        self._snapshot_size = len(data)
        doc = self._parse_deferred(data) if deferred else self._parse(data)
        replayed = replay(doc, journal, source=str(self.journal_path))
        doc = replayed.document
        self._seen = _Seen(identity, replayed.good_length, doc.serial, doc.lineage)
        return doc, True, replayed.torn or replayed.good_length != len(journal)

    def read(self) -> StateDocument:
        return self._load()[0]

    def read_deferred(self) -> StateDocument:
        return self._load(deferred=True)[0]

    def _parse_deferred(self, data: bytes) -> StateDocument:
        """The snapshot with its records kept as text (``reconciler.recorded``), when it
        is laid out as this backend writes it; else read whole."""
        split = split_snapshot(data)
        if split is None:
            return self._parse(data)
        head, spans = split
        try:
            doc = self._parse(head)
        except StateCorruptError:
            return self._parse(data)  # reported as the whole file reads
        records = StoredRecords(data, spans, source=self.display)
        return doc.model_copy(update={"models": records})

    # -- the lock's hooks: compaction ------------------------------------

    def _acquired(self) -> None:
        refuse_link(self.backup_path, what="state backup")
        refuse_link(self.journal_path, what="state journal")
        if self._journal_size() > 0:  # a run ended without folding its journal in
            try:
                self._compact(self._load()[0])
            except StateError as exc:  # left as it is: a damaged one for reads to report
                log.warning("state %s: the journal was not folded in: %s", self.display, exc)

    def _releasing(self) -> None:
        try:
            if self._journal_size() > 0:
                self._compact(self._load()[0])
        except (StateError, OSError) as exc:  # the journal stays; the next writer folds it in
            log.warning(
                "state %s: the journal was not folded into the snapshot: %s", self.display, exc
            )
        finally:
            self._close_journal()

    def _journal_size(self) -> int:
        try:
            return os.lstat(self.journal_path).st_size
        except FileNotFoundError:
            return 0

    def _compact(self, doc: StateDocument) -> None:
        """Rewrite the snapshot as ``doc`` (the current state), then empty the journal."""
        self._close_journal()
        self._store(doc)
        try:
            os.unlink(self.journal_path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise os_failure(exc, doing="write", display=self.display) from None

    # -- writing ---------------------------------------------------------

    def _store(self, doc: StateDocument) -> None:
        """Replace the snapshot with ``doc``, keeping the old one as the backup."""
        data = dump_document(doc).encode("utf-8")
        try:
            if self._snapshot_identity() is not None:
                self._keep_backup()
            atomic_write(self.path, data)
        except OSError as exc:
            raise os_failure(exc, doing="write", display=self.display) from None
        self._snapshot_size = len(data)
        self._seen = _Seen(self._snapshot_identity(), 0, doc.serial, doc.lineage)

    def _keep_backup(self) -> None:
        """Make the current snapshot the backup, before it is replaced.

        A hard link to the current file, renamed over the old backup: no bytes
        are copied, and replacing the state file then frees no inode. Where
        links are not supported the bytes are copied.
        """
        # One writer at a time (the lock): a fixed name, and what a crash left is reused.
        link = self.backup_path.with_name(f".{self.backup_path.name}.link")
        refuse_link(self.backup_path, what="state backup")
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
            os.link(self.path, link)
        except OSError:
            previous = read_nofollow(self.path, what="state file")
            if previous is not None:
                atomic_write(self.backup_path, previous, what="state backup")
            return
        try:
            os.replace(link, self.backup_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(link)
            raise

    def _current(
        self, doc: StateDocument, changes: Mapping[str, ModelRecord | None] | None = None
    ) -> None:
        """StateConflictError unless the stored state is still at ``doc``'s serial and lineage.

        Cheap when nothing but this backend wrote since: the snapshot's identity
        and the journal's length are what it left. ``changes``: what the write
        adds to ``doc``, kept for the user should the state have disappeared.
        """
        seen = self._seen
        unchanged = (
            seen is not None
            and seen.snapshot == self._snapshot_identity()
            and seen.journal == self._journal_size()
        )
        if unchanged:
            assert seen is not None
            serial, lineage, exists = seen.serial, seen.lineage, True
        else:
            try:
                stored, exists, _ = self._load()
            except StateCorruptError:
                # The snapshot removed under a run leaves its journal: no state either.
                if doc.serial == 0 or self._snapshot_identity() is not None:
                    raise
                stored, exists = doc, False
            serial, lineage = stored.serial, stored.lineage
        if not exists:
            if doc.serial != 0:
                models = dict(doc.models)
                _apply(models, changes or {})
                raise StateConflictError(
                    f"state {self.display} disappeared since it was read (read serial {doc.serial})",
                    hint=self._rescue(doc.model_copy(update={"models": models})),
                )
            return
        if doc.serial != serial or doc.lineage != lineage:
            raise StateConflictError(
                f"state {self.display} changed since it was read (read serial {doc.serial},"
                f" stored serial {serial}); the run stopped without writing",
                hint="rerun to plan against the current state",
            )

    def write(self, doc: StateDocument) -> StateDocument:
        self._check_fence()
        self._current(doc)
        stored = doc.model_copy(update={"serial": next_serial(doc, display=self.display)})
        self._compact(stored)
        return stored

    def write_records(self, doc: StateDocument, changes: Mapping[str, ModelRecord | None]) -> int:
        self._check_fence()
        self._current(doc, changes)
        serial = next_serial(doc, display=self.display)
        seen = self._seen
        if seen is None:  # no snapshot yet: the first write makes one
            models = dict(doc.models)
            _apply(models, changes)
            self._compact(doc.model_copy(update={"models": models, "serial": serial}))
            return serial
        entry = encode_entry(doc=doc, changes=changes)
        if self._journal_size() != seen.journal:
            # The state is at ``doc.serial`` (checked above), so the bytes past what
            # was read are a torn last entry: cut them off, or the new entry would
            # follow them and they would read as damage in the middle.
            self._truncate_journal(seen.journal)
        self._append(entry, at=seen.journal)
        self._seen = _Seen(seen.snapshot, seen.journal + len(entry), serial, doc.lineage)
        if seen.journal + len(entry) > max(MIN_COMPACT_BYTES, self._snapshot_size):
            models = dict(doc.models)
            _apply(models, changes)
            self._compact(doc.model_copy(update={"models": models, "serial": serial}))
        return serial

    def _append(self, entry: bytes, *, at: int) -> None:
        """Append ``entry`` at offset ``at`` of the journal and make it durable.

        A failed append is cut off again, so a later entry never follows a
        partial one (which would read as damage in the middle of the journal).
        """
        try:
            if self._journal_fd is None:
                fd = open_nofollow(
                    self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, what="state journal"
                )
                self._journal_fd = fd
                if at == 0:
                    fsync_dir(self.path.parent)  # the new journal's name must survive a crash
            fd = self._journal_fd
            try:
                written = os.write(fd, entry)
                if written != len(entry):
                    raise OSError(28, "short write to the state journal", str(self.journal_path))
                os.fdatasync(fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, at)
                raise
        except OSError as exc:
            raise os_failure(exc, doing="write", display=self.display) from None

    def _truncate_journal(self, length: int) -> None:
        try:
            fd = open_nofollow(self.journal_path, os.O_WRONLY, what="state journal")
            try:
                os.ftruncate(fd, length)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise os_failure(exc, doing="write", display=self.display) from None

    def _close_journal(self) -> None:
        fd, self._journal_fd = self._journal_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _rescue(self, doc: StateDocument) -> str:
        """Keep the document this run meant to write, and say how to restore it.

        The ``.backup`` is an older snapshot, so it lacks the run's last changes
        (the last create recorded, say); the run's own document has every one.
        It is not put back as the state (the file may have been removed on
        purpose) but written next to it, for the user to push.
        """
        rescue = self.path.with_name(self.path.name + ".rescued")
        try:
            atomic_write(rescue, dump_document(doc).encode("utf-8"), what="rescued state")
        except (OSError, StateError):
            return (
                f"restore it from {self.display}.backup (it may lack this run's last changes) "
                "or rerun"
            )
        # A journal left without its snapshot makes the stored state unreadable.
        force = " --force" if self.journal_path.exists() else ""
        return (
            f"this run's latest state, with every change it made, is in {rescue}: restore it "
            f"with `reconciler state push{force} {rescue}` (the .backup lacks the last changes)"
        )

    def push(self, doc: StateDocument, *, force: bool) -> StateDocument:
        own = self._held is None
        held: FileLock | None = self.lock(command="state push") if own else self._held
        try:
            self._check_fence()
            try:
                current, exists, _ = self._load()
            except StateCorruptError:
                if not force:
                    raise
                # An unreadable stored state counts as serial 0; it is kept as .backup
                # and its journal beside it.
                current, exists = StateDocument(), True
                self._keep_journal()
            stored = pushed_document(current=current, exists=exists, doc=doc, force=force)
            self._compact(stored)
            return stored
        finally:
            if own and held is not None:
                held.release()

    def _keep_journal(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.replace(
                self.journal_path, self.journal_path.with_name(self.journal_path.name + ".backup")
            )

    def close(self) -> None:
        super().close()
        self._close_journal()


def _apply(models: dict[str, ModelRecord], changes: Mapping[str, ModelRecord | None]) -> None:
    for name, record in changes.items():
        if record is None:
            models.pop(name, None)
        else:
            models[name] = record
