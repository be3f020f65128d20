"""Helpers every networked command shares: a client and a state reader from the global options.

Commands build these at the edge and pass them down; nothing below the CLI
reads flags or the environment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from reconciler.applied import StateDocument, normalized_endpoint, same_api
from reconciler.cli.context import Globals
from reconciler.errors import CredentialsError
from reconciler.providers import TuningProvider, open_provider
from reconciler.spec import DesiredState
from reconciler.state import StateBackend, open_backend
from reconciler.state.bound import ApiBoundBackend, check_target
from reconciler.target import BackendTarget, resolve_target

# Where commands look for manifests when given none (plan, eval, inventory).
DEFAULT_MANIFESTS = ("manifests",)


def make_client(g: Globals, target: BackendTarget | None = None) -> TuningProvider:
    """The tuning backend of ``target`` (default: the global options' and the manifests'
    Backend document in the default paths), with the credentials of the global options.

    Raises ``CredentialsError`` before any request when a remote endpoint has
    no credential (a loopback emulator needs none).
    """
    if target is None:
        target = default_target(g)
    return open_provider(
        target=target,
        endpoint=g.endpoint,
        api_key=g.api_key,
        access_token=g.access_token,
        user_project=g.user_project,
        request_timeout=g.request_timeout,
        notice=_notice,
    )


def default_target(g: Globals) -> BackendTarget:
    """The target of a command that takes no manifests: the global options, the
    Backend document in ``manifests/`` (when there is one), the environment."""
    return target_of_paths(g, [p for p in DEFAULT_MANIFESTS if Path(p).exists()])


def _notice(message: str) -> None:
    """A retry or a slow request, said as it happens (stderr: stdout may be a plan)."""
    click.echo(message, err=True)


def read_state(g: Globals, target: BackendTarget | None = None) -> StateDocument:
    """The current state document, read without the lock (readers never block writers).

    A location with no state yet reads as an empty document; nothing is written.
    A state recorded for another endpoint is read all the same (these commands
    only report), with a warning: its models would likely all look missing. A
    state of another backend, or of another Vertex AI project or location, than
    ``target`` is refused (``StateError``): its models live elsewhere.
    """
    backend = open_backend(g.state_location)
    try:
        doc = backend.read()
    finally:
        backend.close()
    if target is not None:
        check_target(doc, target=target, source=backend.display)
    if doc.models and doc.endpoint and not same_api(doc.endpoint, g.endpoint):
        click.echo(
            f"Warning: the state {backend.display} belongs to the API at {doc.endpoint}, "
            f"not {normalized_endpoint(g.endpoint)}: its models are compared with this API's "
            "(if the API moved, `reconciler --endpoint-moved apply` records it)",
            err=True,
        )
    return doc


def target_for(g: Globals, desired: DesiredState | None) -> BackendTarget:
    """The backend target of a run: each setting from its flag, else the manifests'
    Backend document (in ``desired``), else the environment; the Gemini API by default.

    Raises ``TargetError`` (a UsageError) naming the flag, variable and document
    field of a setting that is missing or malformed.
    """
    return resolve_target(
        flags=g.target_flags,
        env=g.target_env,
        document=desired.backend if desired is not None else None,
    )


def target_of_paths(
    g: Globals, paths: Sequence[str] | None, *, allow_outside_root: bool = False
) -> BackendTarget:
    """``target_for`` with the Backend document found among the manifests at ``paths``
    (read without loading the rest); no paths, or none that exist: no document."""
    document = None
    if paths:
        from reconciler.manifests import find_backend_document

        document = find_backend_document(
            [Path(p) for p in paths],
            root=Path.cwd(),
            allow_outside_root=allow_outside_root,
            target_flags=g.target_flags,
            target_env=g.target_env,
        )
    return resolve_target(flags=g.target_flags, env=g.target_env, document=document)


@contextmanager
def connected(
    g: Globals,
    *,
    manifests: Sequence[str] | None = None,
    allow_outside_root: bool = False,
    backend_paths: Sequence[str] | None = None,
) -> Iterator[tuple[TuningProvider, StateBackend]]:
    """The client and the state backend of a command, both closed when it ends.

    ``manifests``: the paths the command will load. Without a credential, their
    errors are reported first: they are the ones to fix without the network.
    The backend refuses a state recorded for another API or target (see
    ``state.bound``); the target's Backend document is looked for in
    ``backend_paths`` (default: ``manifests``).
    """
    target = target_of_paths(
        g,
        backend_paths if backend_paths is not None else manifests,
        allow_outside_root=allow_outside_root,
    )
    backend = ApiBoundBackend(
        inner=open_backend(g.state_location),
        endpoint=g.endpoint,
        target=target,
        moved=g.endpoint_moved,
    )
    try:
        try:
            client = make_client(g, target)
        except CredentialsError:
            if manifests is not None:
                from reconciler.apply.refresh import load_desired  # only on this path

                # raises ManifestError listing what is wrong
                load_desired(manifests, allow_outside_root=allow_outside_root, backend=target.kind)
            raise
        with client:
            yield client, backend
    finally:
        backend.close()
