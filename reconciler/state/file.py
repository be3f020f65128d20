"""The local state file: atomic writes with a backup, and a real OS lock.

Layout next to the state (default ``.reconciler/state.json``)::

    state.json          the document (canonical JSON)
    state.json.backup   the previous version, kept on every write
    state.json.lock     {id, pid, host, time, command} of the writer holding the lock

The lock is ``fcntl.flock`` on the lock file *and* the holder record in it. The
kernel drops the flock when the holder dies, however it dies, so a second
writer on this host knows for certain whether the recorded holder is still
running: flock free + a record left behind = the holder is gone, and the lock
is taken over with a warning. A record from another host (a shared disk) cannot
be judged that way and needs ``reconciler force-unlock``.

Writes are fenced: before each write the holder checks that the lock file is
still its own (same inode, same lock id), so a writer whose lock was
force-unlocked stops instead of overwriting the new holder's state.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from reconciler.applied import StateDocument
from reconciler.errors import StateConflictError, StateCorruptError, StateError, StateLockedError
from reconciler.state.base import (
    LOCK_HINT,
    POLL_INITIAL_SECONDS,
    POLL_MAX_SECONDS,
    LockInfo,
    dump_document,
    next_serial,
    parse_text,
    pushed_document,
    this_host,
)
from reconciler.state.files import (
    atomic_write,
    check_directory,
    open_nofollow,
    os_failure,
    read_nofollow,
    refuse_link,
)

log = logging.getLogger("reconciler.state")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FileLock:
    """A held lock on a state file; see the module docstring."""

    def __init__(
        self, *, backend: FileBackend, fd: int, inode: int, info: LockInfo, warning: str | None
    ) -> None:
        self._backend = backend
        self._fd: int | None = fd
        self.inode = inode
        self.info = info
        self.warning = warning

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if self._backend.owns(self):
                # Remove the record first, then the flock: a waiter that gets the
                # flock on the unlinked inode notices and retries on the new file.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._backend.lock_path)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            self._backend._released(self)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class FileBackend:
    """State in a local JSON file (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.display = str(path)
        self._clock = clock
        self._sleep = sleep
        self._held: FileLock | None = None
        # The state's bytes as this backend last read or wrote them, with their
        # (serial, lineage): a write need not parse them again to check the serial.
        self._seen: tuple[bytes, int, str] | None = None

    # -- reading ---------------------------------------------------------

    def _load(self) -> tuple[StateDocument, bool]:
        data = self._stored_bytes()
        if data is None:
            return StateDocument(), False
        return self._parse(data), True

    def _parse(self, data: bytes) -> StateDocument:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StateCorruptError(
                f"state {self.display} is not UTF-8 text",
                hint=f"restore {self.display}.backup or push a good copy with `reconciler state push --force FILE`",
            ) from exc
        doc = parse_text(text, source=self.display)
        self._seen = (data, doc.serial, doc.lineage)
        return doc

    def _stored_identity(self, data: bytes) -> tuple[int, str]:
        """(serial, lineage) of the stored bytes ``data``.

        Bytes this backend read or wrote last are not parsed again: a write
        checks the serial of a 10,000-model state without re-reading it whole.
        """
        seen = self._seen
        if seen is not None and seen[0] == data:
            return seen[1], seen[2]
        doc = self._parse(data)
        return doc.serial, doc.lineage

    def read(self) -> StateDocument:
        return self._load()[0]

    # -- locking ---------------------------------------------------------

    def _read_lock_record(self) -> LockInfo | None:
        data = read_nofollow(self.lock_path, what="state lock file")
        if data is None:
            return None
        try:
            return LockInfo.from_json(json.loads(data.decode("utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def _try_lock(self, command: str) -> FileLock | LockInfo | None:
        """One attempt: the lock, or the holder's record (None: held, record not yet written)."""
        check_directory(self.path.parent)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_nofollow(self.lock_path, os.O_RDWR | os.O_CREAT, what="state lock file")
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                os.close(fd)
                return self._read_lock_record()
            inode = os.fstat(fd).st_ino
            try:
                current = os.lstat(self.lock_path).st_ino
            except FileNotFoundError:
                current = -1
            if current != inode:  # released (unlinked) while we waited: try the new file
                os.close(fd)
                return self._try_lock(command)
            with os.fdopen(os.dup(fd), "r", encoding="utf-8", errors="replace") as fh:
                left = fh.read()
            warning = None
            if left.strip():
                try:
                    previous = LockInfo.from_json(json.loads(left))
                except json.JSONDecodeError:
                    previous = None
                if previous is not None and previous.host != this_host():
                    os.close(fd)  # another host's holder: the flock says nothing about it
                    return previous
                if previous is not None:
                    warning = (
                        f"took over a stale state lock: its holder pid {previous.pid} on host "
                        f"{previous.host} (reconciler {previous.command}, lock id {previous.id}) is gone"
                    )
                else:
                    warning = (
                        f"took over a stale state lock: {self.lock_path} held no readable record"
                    )
                log.warning(warning)
            info = LockInfo(
                id=str(uuid.uuid4()),
                pid=os.getpid(),
                host=this_host(),
                time=datetime.now(UTC).isoformat(timespec="seconds"),
                command=command,
            )
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info.to_json(), sort_keys=True) + "\n").encode(), 0)
            os.fsync(fd)
            return FileLock(backend=self, fd=fd, inode=inode, info=info, warning=warning)
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise

    def lock(self, *, command: str, timeout: float = 0.0) -> FileLock:
        if self._held is not None:
            raise StateError(f"state {self.display} is already locked by this run")
        deadline = self._clock() + max(timeout, 0.0)
        delay = POLL_INITIAL_SECONDS
        while True:
            try:
                got = self._try_lock(command)
            except OSError as exc:
                raise os_failure(exc, doing="lock", display=self.display) from None
            if isinstance(got, FileLock):
                self._held = got
                return got
            remaining = deadline - self._clock()
            if remaining <= 0:
                if got is None:
                    raise StateLockedError(
                        f"state {self.display} is locked by another process",
                        hint=LOCK_HINT.format(id="LOCK_ID"),
                    )
                waited = f" (waited {timeout:g}s)" if timeout > 0 else ""
                raise StateLockedError(
                    f"state {self.display} is locked by {got.describe()}{waited}",
                    hint=LOCK_HINT.format(id=got.id),
                )
            self._sleep(min(delay, remaining))
            delay = min(delay * 2, POLL_MAX_SECONDS)

    def owns(self, held: FileLock) -> bool:
        """Whether the lock file on disk is still ``held``'s (not force-unlocked meanwhile)."""
        try:
            if os.lstat(self.lock_path).st_ino != held.inode:
                return False
        except FileNotFoundError:
            return False
        record = self._read_lock_record()
        return record is not None and record.id == held.info.id

    def _released(self, held: FileLock) -> None:
        if self._held is held:
            self._held = None

    def _check_fence(self) -> FileLock:
        held = self._held
        if held is None:
            raise StateError(f"writing state {self.display} needs the state lock; none is held")
        if not self.owns(held):
            raise StateConflictError(
                f"this run no longer holds the lock on state {self.display} (lock id {held.info.id});"
                " it was force-unlocked, so the run stopped without writing",
                hint="rerun to continue from the current state",
            )
        return held

    # -- writing ---------------------------------------------------------

    def _store(self, doc: StateDocument, *, previous_text: bytes | None) -> None:
        data = dump_document(doc).encode("utf-8")
        try:
            if previous_text is not None:
                self._keep_backup(previous_text)
            atomic_write(self.path, data)
        except OSError as exc:
            raise os_failure(exc, doing="write", display=self.display) from None
        self._seen = (data, doc.serial, doc.lineage)

    def _keep_backup(self, previous_text: bytes) -> None:
        """Make the current state file the backup, before it is replaced.

        A hard link to the current file, renamed over the old backup: no bytes
        are copied, and replacing the state file then frees no inode (freeing
        one, on ext4, costs about as much as the rest of a small write). Where
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
            atomic_write(self.backup_path, previous_text, what="state backup")
            return
        try:
            os.replace(link, self.backup_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(link)
            raise

    def _stored_bytes(self) -> bytes | None:
        check_directory(self.path.parent)
        try:
            return read_nofollow(self.path, what="state file")
        except OSError as exc:
            raise os_failure(exc, doing="read", display=self.display) from None

    def check_lock(self) -> None:
        self._check_fence()

    def write(self, doc: StateDocument) -> StateDocument:
        self._check_fence()
        previous = self._stored_bytes()
        if previous is not None:
            serial, lineage = self._stored_identity(previous)
            if doc.serial != serial or doc.lineage != lineage:
                raise StateConflictError(
                    f"state {self.display} changed since it was read (read serial {doc.serial},"
                    f" stored serial {serial}); the run stopped without writing",
                    hint="rerun to plan against the current state",
                )
        elif doc.serial != 0:
            raise StateConflictError(
                f"state {self.display} disappeared since it was read (read serial {doc.serial})",
                hint=self._rescue(doc),
            )
        stored = doc.model_copy(update={"serial": next_serial(doc, display=self.display)})
        self._store(stored, previous_text=previous)
        return stored

    def _rescue(self, doc: StateDocument) -> str:
        """Keep the document this run meant to write, and say how to restore it.

        The ``.backup`` is the version before the last write, so it lacks that
        write (the last create recorded, say); the run's own document has every
        change. It is not put back as the state (the file may have been removed
        on purpose) but written next to it, for the user to push.
        """
        rescue = self.path.with_name(self.path.name + ".rescued")
        try:
            atomic_write(rescue, dump_document(doc).encode("utf-8"), what="rescued state")
        except (OSError, StateError):
            return (
                f"restore it from {self.display}.backup (it may lack this run's last change) "
                "or rerun"
            )
        return (
            f"this run's latest state, with every change it made, is in {rescue}: restore it "
            f"with `reconciler state push {rescue}` (the .backup lacks the last change)"
        )

    def push(self, doc: StateDocument, *, force: bool) -> StateDocument:
        own = self._held is None
        held = self.lock(command="state push") if own else self._held
        try:
            self._check_fence()
            previous = self._stored_bytes()
            current, exists = (
                self._load() if not force or previous is None else self._load_lenient()
            )
            stored = pushed_document(current=current, exists=exists, doc=doc, force=force)
            self._store(stored, previous_text=previous)
            return stored
        finally:
            if own and held is not None:
                held.release()

    def _load_lenient(self) -> tuple[StateDocument, bool]:
        """For a forced push: an unreadable stored state counts as serial 0 (it is kept as .backup)."""
        try:
            return self._load()
        except StateCorruptError:
            return StateDocument(), True

    def force_unlock(self, lock_id: str | None) -> str:
        try:
            return self._force_unlock(lock_id)
        except OSError as exc:
            raise os_failure(exc, doing="unlock", display=self.display) from None

    def _force_unlock(self, lock_id: str | None) -> str:
        record = self._read_lock_record()
        if not os.path.lexists(self.lock_path):
            raise StateError(f"state {self.display} is not locked")
        held_now = self._flock_held()
        if record is None:
            if held_now and lock_id is None:
                raise StateError(
                    f"state {self.display} is locked by a running process that has not recorded itself yet",
                    hint="retry in a moment",
                )
            self.lock_path.unlink(missing_ok=True)
            return f"Removed the unreadable lock file {self.lock_path}."
        if lock_id is not None and lock_id != record.id:
            raise StateError(
                f"lock id {lock_id} does not match the lock on state {self.display}:"
                f" it is held by {record.describe()}",
                hint=f"run `reconciler force-unlock {record.id}` to remove that lock",
            )
        alive = held_now or (record.host == this_host() and _pid_alive(record.pid))
        if lock_id is None and (held_now or record.host != this_host()):
            raise StateError(
                f"state {self.display} is locked by {record.describe()}, which may still be running",
                hint=f"make sure it is stopped, then run `reconciler force-unlock {record.id}`",
            )
        self.lock_path.unlink(missing_ok=True)
        state = "still running; its next state write will be refused" if alive else "gone"
        return f"Removed lock {record.id} held by pid {record.pid} on host {record.host} (reconciler {record.command}); the holder is {state}."

    def _flock_held(self) -> bool:
        """Whether some process on this host holds the flock on the lock file right now."""
        try:
            fd = open_nofollow(self.lock_path, os.O_RDONLY, what="state lock file")
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing drops our probe lock too
        return False

    def close(self) -> None:
        if self._held is not None:
            self._held.release()
