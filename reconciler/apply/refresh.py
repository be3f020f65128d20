"""What every command starts from: the manifests, the state and the live models.

Also the state lock as the commands hold it: writers for their whole run,
readers only while reading. A stale lock taken over is reported as a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from reconciler.api import GeminiClient
from reconciler.applied import StateDocument
from reconciler.live import LiveModel
from reconciler.manifests import load_manifests
from reconciler.spec import DesiredState
from reconciler.state.base import StateBackend

Warn = Callable[[str], None]


def load_desired(paths: Sequence[str], *, allow_outside_root: bool = False) -> DesiredState:
    """Load and resolve manifests (ManifestError lists every problem)."""
    result = load_manifests(
        [Path(p) for p in paths], root=Path.cwd(), allow_outside_root=allow_outside_root
    )
    return result.desired


@contextmanager
def locked(backend: StateBackend, *, command: str, timeout: float, warn: Warn) -> Iterator[None]:
    with backend.lock(command=command, timeout=timeout) as held:
        if held.warning:
            warn(held.warning)
        yield


def gather(
    *, client: GeminiClient, backend: StateBackend, paths: Sequence[str]
) -> tuple[DesiredState, StateDocument, list[LiveModel]]:
    """Manifests, state and every live tuned model (one paginated list, no per-model GET).

    The listing runs on a second thread while the manifests and the state are
    read: the API's time to answer overlaps with our own parsing, which at
    10,000 models takes about as long. A manifest error wins over a listing
    error: it is the one the user can fix without the network.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh") as pool:
        listing = pool.submit(lambda: list(client.list_tuned_models(snapshots=False)))
        try:
            desired = load_desired(paths)
            state = backend.read()
        except BaseException:
            listing.exception()  # let the listing end before the client closes
            raise
        return desired, state, listing.result()
