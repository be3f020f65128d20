"""What every command starts from: the manifests, the state and the live models.

Also the state lock as the commands hold it: writers for their whole run
(``apply`` gives it up once only tuning is left to follow), readers only while
reading. A stale lock taken over is reported as a warning.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from reconciler.applied import StateDocument
from reconciler.live import LiveModel
from reconciler.manifests import load_manifests
from reconciler.providers import TuningProvider
from reconciler.spec import DesiredState
from reconciler.state.base import StateBackend
from reconciler.target import NO_SETTINGS, TargetSettings

Warn = Callable[[str], None]


def load_desired(
    paths: Sequence[str], *, allow_outside_root: bool = False, backend: str | None = None
) -> DesiredState:
    """Load and resolve manifests (ManifestError lists every problem).

    ``backend``: the kind of API the run talks to (``Capabilities.backend``,
    resolved from flags, the Backend document and the environment): its field
    rules apply, whatever the document alone would say.
    """
    result = load_manifests(
        [Path(p) for p in paths],
        root=Path.cwd(),
        allow_outside_root=allow_outside_root,
        target_flags=TargetSettings(backend=backend) if backend else NO_SETTINGS,
    )
    return result.desired


@contextmanager
def locked(backend: StateBackend, *, command: str, timeout: float, warn: Warn) -> Iterator[None]:
    held = backend.lock(command=command, timeout=timeout)
    try:
        if held.warning:
            warn(held.warning)
        yield
    finally:
        with _ctrl_c_deferred():  # a lock is given up whole, never half
            held.release()


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C back until the block is done, then deliver it as usual.

    Swaps the Python-level SIGINT handler (blocking the signal would not do:
    the kernel hands it to any thread that does not block it).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple[int, FrameType | None]] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(*caught[0])
        elif caught and previous == signal.SIG_DFL:
            signal.raise_signal(signal.SIGINT)  # the default action, now that it is safe


def gather(
    *,
    client: TuningProvider,
    backend: StateBackend,
    paths: Sequence[str],
    state: StateDocument | None = None,
    allow_outside_root: bool = False,
) -> tuple[DesiredState, StateDocument, list[LiveModel]]:
    """Manifests, state and every live tuned model (one paginated list, no per-model GET).

    ``state``: the state already read, by a reader that held the lock only
    while reading it (``plan``), so that no request is made under the lock.

    The listing runs on a second thread while the manifests and the state are
    read: the API's time to answer overlaps with our own parsing, which at
    10,000 models takes about as long. A manifest error wins over a listing
    error: it is the one the user can fix without the network.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh") as pool:
        listing = pool.submit(lambda: list(client.list_tuned_models(snapshots=False)))
        try:
            if state is None:  # first: a state of another backend is the error to report
                state = backend.read()
            desired = load_desired(
                paths, allow_outside_root=allow_outside_root, backend=client.capabilities.backend
            )
        except BaseException:
            listing.exception()  # let the listing end before the client closes
            raise
        return desired, state, listing.result()
