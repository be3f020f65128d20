"""Helpers every networked command shares: a client and a state reader from the global options.

Commands build these at the edge and pass them down; nothing below the CLI
reads flags or the environment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from reconciler.api import Credentials, GeminiClient
from reconciler.applied import GEMINI_BACKEND, StateDocument
from reconciler.cli.context import Globals
from reconciler.errors import CredentialsError
from reconciler.state import StateBackend, open_backend
from reconciler.state.bound import ApiBoundBackend


def make_client(g: Globals) -> GeminiClient:
    """A client for ``--endpoint`` with the credentials of the global options.

    Raises ``CredentialsError`` before any request when a remote endpoint has
    no API key or token (a loopback emulator needs none).
    """
    credentials = Credentials.resolve(
        api_key=g.api_key,
        access_token=g.access_token,
        user_project=g.user_project,
        endpoint=g.endpoint,
    )
    return GeminiClient(endpoint=g.endpoint, credentials=credentials)


def read_state(g: Globals) -> StateDocument:
    """The current state document, read without the lock (readers never block writers).

    A location with no state yet reads as an empty document; nothing is written.
    """
    backend = open_backend(g.state_location)
    try:
        return backend.read()
    finally:
        backend.close()


@contextmanager
def connected(
    g: Globals, *, manifests: Sequence[str] | None = None
) -> Iterator[tuple[GeminiClient, StateBackend]]:
    """The client and the state backend of a command, both closed when it ends.

    ``manifests``: the paths the command will load. Without a credential, their
    errors are reported first: they are the ones to fix without the network.
    The backend refuses a state recorded for another API (see ``state.bound``).
    """
    backend = ApiBoundBackend(
        inner=open_backend(g.state_location),
        backend=GEMINI_BACKEND,
        endpoint=g.endpoint,
        moved=g.endpoint_moved,
    )
    try:
        try:
            client = make_client(g)
        except CredentialsError:
            if manifests is not None:
                from reconciler.apply.refresh import load_desired  # only on this path

                load_desired(manifests)  # raises ManifestError listing what is wrong
            raise
        with client:
            yield client, backend
    finally:
        backend.close()
