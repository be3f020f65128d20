"""Tuning backends behind one interface (``TuningProvider``), and the one place that builds them.

Commands call ``open_provider`` with the values of their options and hand the
result down; ``apply``, ``inventory`` and the executor see only the interface
(``interface``) and the backend's ``Capabilities``. No module above this
package names a concrete client (``make lint`` checks it).

Public interface::

    open_provider(*, target, endpoint, api_key, access_token, user_project,
                  request_timeout, notice) -> TuningProvider
    TuningProvider, Capabilities
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.api import Credentials
from reconciler.api.client import GeminiClient
from reconciler.capabilities import Capabilities
from reconciler.providers.interface import TuningProvider
from reconciler.target import BackendTarget

# The Gemini API's root, the default of --endpoint: on Vertex AI it means
# "no endpoint given" (each location has its own host).
GEMINI_ENDPOINT = "https://generativelanguage.googleapis.com"


def open_provider(
    *,
    target: BackendTarget,
    endpoint: str,
    api_key: str | None,
    access_token: str | None,
    user_project: str | None,
    request_timeout: float,
    notice: Callable[[str], None],
) -> TuningProvider:
    """The provider of ``target`` with these credentials; nothing is sent yet.

    Raises ``CredentialsError`` before any request when a remote endpoint has
    no credential (a loopback emulator needs none), and ``UsageError`` for an
    API key on Vertex AI (it takes OAuth only).
    """
    if target.kind == "vertex":
        from reconciler.providers.vertex_setup import open_vertex  # only on this backend

        return open_vertex(
            target=target,
            endpoint=None if endpoint.rstrip("/") == GEMINI_ENDPOINT else endpoint,
            api_key=api_key,
            access_token=access_token,
            user_project=user_project,
            request_timeout=request_timeout,
            notice=notice,
        )
    credentials = Credentials.resolve(
        api_key=api_key,
        access_token=access_token,
        user_project=user_project,
        endpoint=endpoint,
    )
    return GeminiClient(
        endpoint=endpoint,
        credentials=credentials,
        request_timeout=request_timeout,
        notice=notice,
    )


__all__ = ["GEMINI_ENDPOINT", "Capabilities", "TuningProvider", "open_provider"]
