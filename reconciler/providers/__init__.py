"""Tuning backends behind one interface (``TuningProvider``), and the one place that builds them.

Commands call ``open_provider`` with the values of their options and hand the
result down; ``apply``, ``inventory`` and the executor see only the interface
(``interface``) and the backend's ``Capabilities``. No module above this
package names a concrete client (``make lint`` checks it).

Public interface::

    open_provider(*, endpoint, api_key, access_token, user_project,
                  request_timeout, notice) -> TuningProvider
    TuningProvider, Capabilities
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.api import Credentials
from reconciler.api.client import GeminiClient
from reconciler.capabilities import Capabilities
from reconciler.providers.interface import TuningProvider


def open_provider(
    *,
    endpoint: str,
    api_key: str | None,
    access_token: str | None,
    user_project: str | None,
    request_timeout: float,
    notice: Callable[[str], None],
) -> TuningProvider:
    """The provider for ``endpoint`` with these credentials; nothing is sent yet.

    Raises ``CredentialsError`` before any request when a remote endpoint has
    no API key or token (a loopback emulator needs none).
    """
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


__all__ = ["Capabilities", "TuningProvider", "open_provider"]
