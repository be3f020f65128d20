"""The state file's writer lock: a real OS lock plus a record of its holder.

``state.json.lock`` holds {id, pid, host, time, command} of the writer holding
the lock. The lock is ``fcntl.flock`` on that file *and* the holder record in
it. The kernel drops the flock when the holder dies, however it dies, so a
second writer on this host knows for certain whether the recorded holder is
still running: flock free + a record left behind = the holder is gone, and the
lock is taken over with a warning. A record from another host (a shared disk)
cannot be judged that way and needs ``reconciler force-unlock``.

Writes are fenced: before each write the holder checks that the lock file is
still its own (same inode, same lock id), so a writer whose lock was
force-unlocked stops instead of overwriting the new holder's state.

The base of ``reconciler.state.file.FileBackend``, which stores the document.
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

from reconciler.errors import StateConflictError, StateError, StateLockedError
from reconciler.state.base import (
    LOCK_HINT,
    POLL_INITIAL_SECONDS,
    POLL_MAX_SECONDS,
    LockInfo,
    this_host,
)
from reconciler.state.files import check_directory, open_nofollow, os_failure, read_nofollow

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
        self, *, backend: FileLocking, fd: int, inode: int, info: LockInfo, warning: str | None
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
                self._backend._releasing()
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


class FileLocking:
    """The writer lock of one state file (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.display = str(path)
        self._clock = clock
        self._sleep = sleep
        self._held: FileLock | None = None

    def _acquired(self) -> None:
        """Called once the lock is taken (the backend folds a crashed run's journal in)."""

    def _releasing(self) -> None:
        """Called just before a lock this backend still owns is given up."""

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
                try:
                    self._acquired()
                except BaseException:
                    got.release()
                    raise
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
    def check_lock(self) -> None:
        self._check_fence()

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
