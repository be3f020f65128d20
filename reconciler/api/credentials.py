"""Who the client is: an API key or an OAuth access token, turned into headers.

An access token is either fixed (``access_token``) or asked of a
``token_source`` before every request (``BearerAuth``), so tokens that expire
are refreshed: Application Default Credentials for Vertex AI
(``google_tokens``).

The key travels only in the ``x-goog-api-key`` header, never in a URL, so it
cannot end up in proxy logs, httpx's request log or an error message that
quotes the URL. ``Credentials`` never shows its secrets in ``repr``.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from reconciler.errors import CredentialsError, UsageError

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
# After a 401 or 403 from Vertex AI or Cloud Storage (the Gemini API's hint names API keys).
VERTEX_AUTH_HINT = (
    "Vertex AI and Cloud Storage take an OAuth token: check --access-token or the "
    "Application Default Credentials (gcloud auth application-default login, "
    "GOOGLE_APPLICATION_CREDENTIALS), and that the principal has the Vertex AI User role "
    "on the project and can write to the dataset bucket"
)


def is_local_endpoint(endpoint: str) -> bool:
    """True for a loopback host (localhost, 127.0.0.0/8, ::1): an emulator, not Google."""
    host = (urlsplit(endpoint).hostname or "").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(endpoint: str) -> str:
    """The endpoint without trailing slashes; a UsageError if it is not an http(s) URL."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid endpoint {endpoint!r}: expected an http:// or https:// URL",
            hint="for example --endpoint https://generativelanguage.googleapis.com",
        )
    if parts.query or parts.fragment:
        raise UsageError(f"invalid endpoint {endpoint!r}: a base URL has no query or fragment")
    return endpoint.rstrip("/")


class TokenSource(Protocol):
    """Gives the OAuth access token to send now, refreshing it when due; thread-safe.

    A source that can also ``invalidate(token)`` (forget a token the server
    refused, so the next call fetches another) gets one retry after a 401.
    """

    def __call__(self) -> str: ...


@dataclass(frozen=True)
class Credentials:
    """The credential sent with every request; build it with ``Credentials.resolve``.

    At most one of ``api_key`` / ``access_token`` is set; neither is set only
    for a local endpoint (an emulator started without ``--api-key`` accepts
    anything).
    """

    api_key: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    user_project: str | None = None
    # Asked for the token before each request (``BearerAuth``); not with ``access_token``.
    token_source: TokenSource | None = field(default=None, repr=False, compare=False)

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None,
        access_token: str | None,
        user_project: str | None = None,
        endpoint: str,
    ) -> Credentials:
        """Pick the credential for ``endpoint``, failing before any request when none fits.

        An access token wins over an API key when both are given: a token is
        normally passed on purpose, while a key often just lingers in the
        environment. An empty string counts as not given.
        """
        api_key = api_key or None
        access_token = access_token or None
        if access_token:
            return cls(access_token=access_token, user_project=user_project or None)
        if api_key:
            return cls(api_key=api_key)
        if is_local_endpoint(endpoint):
            return cls()
        raise CredentialsError(
            "no API key: set GEMINI_API_KEY or pass --api-key "
            "(or pass an OAuth token with --access-token)",
            hint=f"{endpoint} is not a local emulator, so every request needs a credential",
        )

    def headers(self) -> dict[str, str]:
        """The authentication headers for one request."""
        if self.access_token or self.token_source is not None:
            # A token source's token is added per request, by ``BearerAuth``.
            headers = {}
            if self.access_token:
                headers["authorization"] = f"Bearer {self.access_token}"
            if self.user_project:
                headers["x-goog-user-project"] = self.user_project
            return headers
        if self.api_key:
            return {"x-goog-api-key": self.api_key}
        return {}

    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a log line, URL or message."""
        return tuple(s for s in (self.api_key, self.access_token) if s)

    @property
    def kind(self) -> str:
        """How requests authenticate, for logs: "api-key", "access-token" or "none"."""
        if self.access_token:
            return "access-token"
        if self.token_source is not None:
            return "google-auth"
        return "api-key" if self.api_key else "none"


class BearerAuth(httpx.Auth):
    """Puts the token source's current token in each request's Authorization header.

    Every token sent is passed to ``sent`` first, so the caller can keep it out
    of logs and messages.
    """

    def __init__(self, source: TokenSource, sent: Callable[[str], None]) -> None:
        self._source = source
        self._sent = sent

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._source()
        self._sent(token)
        request.headers["authorization"] = f"Bearer {token}"
        response = yield request
        invalidate = getattr(self._source, "invalidate", None)
        if response.status_code != 401 or not callable(invalidate):
            return
        # Refused before its expiry (revoked, or a skewed clock): one fresh token, once.
        invalidate(token)
        fresh = self._source()
        if fresh != token:
            self._sent(fresh)
            request.headers["authorization"] = f"Bearer {fresh}"
            yield request


class SentTokens:
    """The tokens a session has sent (thread-safe): what its messages must never show."""

    def __init__(self, static: tuple[str, ...]) -> None:
        self._static = static
        self._sent: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, token: str) -> bool:
        """Remember ``token``; True if it is new."""
        with self._lock:
            if token in self._sent:
                return False
            self._sent = (*self._sent, token)
            return True

    def all(self) -> tuple[str, ...]:
        with self._lock:
            return self._static + self._sent
