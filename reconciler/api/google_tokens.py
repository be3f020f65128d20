"""OAuth access tokens for Vertex AI and Cloud Storage: a static token or Application Default Credentials.

Vertex AI takes no API key, only ``Authorization: Bearer <token>``. Where the
token comes from, in order:

1. ``--access-token`` (a token the user minted, e.g. ``gcloud auth print-access-token``):
   sent as it is, never refreshed.
2. A loopback emulator endpoint: no credential at all.
3. Application Default Credentials through google-auth (``google.auth.default``):
   ``GOOGLE_APPLICATION_CREDENTIALS`` naming a service-account key or a workload
   identity federation (``external_account``) file, as GitHub Actions' auth step
   writes; ``gcloud auth application-default login``; the metadata server on
   Google Cloud. ``GoogleAuthTokens`` refreshes the token before it expires
   (google-auth's margin, 3 min 45 s), once for all threads sharing it.

When none is found the error says so before any network traffic: the
metadata server is only asked on a machine that looks like Google Cloud.
Tokens appear only in the Authorization header: every token handed out is
registered with ``redact.protect`` (log lines) and is never part of a repr.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport
import httpx

from reconciler.api.credentials import Credentials, is_local_endpoint
from reconciler.api.failures import MESSAGE_MAX_CHARS, scrub
from reconciler.api.redact import protect
from reconciler.errors import CredentialsError, TransportError

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
NO_ADC_HINT = (
    "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service-account key or workload identity federation file, or pass --access-token"
)
# A token endpoint's answer is a small JSON object: more than this is not read.
MAX_TOKEN_RESPONSE_BYTES = 1 << 20
TOKEN_TIMEOUT_SECONDS = 30.0
# Set on Google Cloud runtimes whose metadata server google-auth asks for a token.
_GOOGLE_CLOUD_ENVIRONMENT = (
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
    "K_SERVICE",  # Cloud Run services and Cloud Functions
    "CLOUD_RUN_JOB",
    "GAE_ENV",
    "KUBERNETES_SERVICE_HOST",  # GKE workload identity
)
_GCE_PRODUCT_NAME_FILE = Path("/sys/class/dmi/id/product_name")


class _Response(google.auth.transport.Response):
    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self._status = status
        self._headers = dict(headers)
        self._data = data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> dict[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class HttpxRequest(google.auth.transport.Request):
    """google-auth's transport over httpx: token endpoints, STS, the metadata server.

    A connection per request: a token is refreshed about once an hour, and
    nothing is left open for anyone to close.
    """

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        try:
            with (
                httpx.Client(
                    transport=self._transport,
                    follow_redirects=False,
                    timeout=TOKEN_TIMEOUT_SECONDS,
                    trust_env=self._transport is None,
                ) as client,
                client.stream(
                    method,
                    url,
                    content=body,
                    headers=dict(headers or {}),
                    timeout=timeout or TOKEN_TIMEOUT_SECONDS,
                ) as response,
            ):
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_TOKEN_RESPONSE_BYTES:
                        raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                            f"the answer of {_where(url)} is larger than "
                            f"{MAX_TOKEN_RESPONSE_BYTES} bytes"
                        )
                return _Response(response.status_code, response.headers, bytes(data))
        except httpx.HTTPError as exc:
            # Never the URL's query (a metadata request may carry parameters): host and path.
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"{method} {_where(url)} failed ({type(exc).__name__})"
            ) from None


def _where(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}{parsed.path}"


class GoogleAuthTokens:
    """The current access token of google-auth credentials, refreshed before expiry.

    Call it for the token to send now. Thread-safe: when the token is due,
    one caller refreshes while the others wait for that result.
    """

    def __init__(
        self,
        credentials: google.auth.credentials.Credentials,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._credentials = credentials
        self._request = HttpxRequest(transport)
        self._lock = threading.Lock()
        self._issued: list[str] = []
        self._refreshes = 0

    def __repr__(self) -> str:
        return f"GoogleAuthTokens({type(self._credentials).__name__})"

    @property
    def quota_project(self) -> str | None:
        """The ADC's quota project (its file's ``quota_project_id``, GOOGLE_CLOUD_QUOTA_PROJECT)."""
        value = getattr(self._credentials, "quota_project_id", None)
        return value if isinstance(value, str) and value else None

    @property
    def refresh_count(self) -> int:
        with self._lock:
            return self._refreshes

    def __call__(self) -> str:
        with self._lock:
            fresh = google.auth.credentials.TokenState.FRESH
            if self._credentials.token_state is not fresh:
                self._refresh()
            token = self._credentials.token
            if not isinstance(token, str) or not token:
                raise CredentialsError(
                    "the Google credentials gave no access token", hint=NO_ADC_HINT
                )
            if token not in self._issued:
                protect(token)
                self._issued.append(token)
            return token

    def secrets(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._issued)

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the server refused it): the next call gets a new one."""
        with self._lock:
            if self._credentials.token == token:
                self._credentials.token = None

    def _refresh(self) -> None:
        kind = type(self._credentials).__name__
        try:
            self._credentials.refresh(self._request)  # type: ignore[no-untyped-call]
        except google.auth.exceptions.TransportError as exc:
            raise TransportError(
                f"cannot reach the Google token endpoint ({kind}): {self._text(exc)}",
                hint="check the network and any proxy settings (HTTPS_PROXY)",
            ) from None
        except (google.auth.exceptions.GoogleAuthError, ValueError) as exc:
            # Refused (RefreshError, OAuthError), or an answer that is not the JSON expected.
            raise CredentialsError(
                f"cannot refresh the Google access token ({kind}): {self._text(exc)}",
                hint=NO_ADC_HINT,
            ) from None
        self._refreshes += 1

    def _text(self, exc: Exception) -> str:
        """google-auth's message, which may quote a token endpoint's answer: bounded, scrubbed."""
        text = " ".join(str(exc).split())
        return scrub(text, self._issued)[:MESSAGE_MAX_CHARS]


def application_default_tokens(*, transport: httpx.BaseTransport | None = None) -> GoogleAuthTokens:
    """Application Default Credentials with the cloud-platform scope, or a CredentialsError."""
    if not _adc_may_exist():
        raise CredentialsError(
            "no Google credentials found: Vertex AI needs an OAuth access token, and there are "
            "no Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS is not set, "
            "there is no gcloud application-default login, and this is not Google Cloud)",
            hint=NO_ADC_HINT,
        )
    request = HttpxRequest(transport)
    try:
        with warnings.catch_warnings():
            # "end user credentials without a quota project": Vertex AI bills the project in
            # the path; --user-project sets x-goog-user-project when another is wanted.
            warnings.filterwarnings("ignore", message=".*end user credentials.*")
            credentials, _project = google.auth.default(
                scopes=[CLOUD_PLATFORM_SCOPE], request=request
            )
    except (google.auth.exceptions.GoogleAuthError, ValueError) as exc:
        # ValueError: google-auth parses some answers (a project lookup) without a guard.
        raise CredentialsError(
            f"the Application Default Credentials cannot be used: {_short(exc)}",
            hint=NO_ADC_HINT,
        ) from None
    return GoogleAuthTokens(credentials, transport=transport)


def vertex_credentials(
    *,
    access_token: str | None,
    endpoint: str | None,
    user_project: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Credentials:
    """The credential for Vertex AI and Cloud Storage at ``endpoint`` (None: Google's hosts).

    ``--access-token`` wins; a loopback emulator needs nothing; otherwise
    Application Default Credentials. Never an API key. ``user_project`` (the
    ``x-goog-user-project`` header) defaults to the ADC's quota project, which
    user credentials from ``gcloud auth application-default login`` need.
    """
    if access_token:
        return Credentials(access_token=access_token, user_project=user_project or None)
    if endpoint is not None and is_local_endpoint(endpoint):
        return Credentials()
    tokens = application_default_tokens(transport=transport)
    return Credentials(token_source=tokens, user_project=user_project or tokens.quota_project)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:MESSAGE_MAX_CHARS]


def _adc_may_exist() -> bool:
    """Whether ``google.auth.default`` can find anything, decided without the network."""
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    if _gcloud_adc_file().is_file():
        return True
    if os.environ.get("NO_GCE_CHECK") == "true":
        return False
    if any(os.environ.get(name) for name in _GOOGLE_CLOUD_ENVIRONMENT):
        return True
    try:
        return _GCE_PRODUCT_NAME_FILE.read_text(encoding="utf-8").strip().startswith("Google")
    except (OSError, UnicodeDecodeError):
        return False


def _gcloud_adc_file() -> Path:
    """Where ``gcloud auth application-default login`` writes, as google-auth looks for it."""
    config = os.environ.get("CLOUDSDK_CONFIG")
    if config:
        base = Path(config)
    elif os.name == "nt":
        base = Path(os.environ.get("APPDATA", "~")).expanduser() / "gcloud"
    else:
        base = Path("~/.config/gcloud").expanduser()
    return base / "application_default_credentials.json"
