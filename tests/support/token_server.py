"""A Google OAuth token endpoint for tests: google-auth refreshes against it over real HTTP.

It answers the two grants Application Default Credentials files use without a
browser: the STS token exchange of workload identity federation
(``external_account``) and the JWT bearer grant of a service-account key. The
n-th token is ``ya29.test-token-n``; ``lifetimes`` sets how long each one
lives (``expires_in``), the last value repeating. ``fail_with`` makes the next
answers an OAuth error, quoting the last token issued (a server that echoes
what it got), so a test can check that no message shows it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.threaded import serve_in_thread

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class TokenServer:
    url: str = ""
    lifetimes: list[int] = field(default_factory=lambda: [3600])
    issued: list[str] = field(default_factory=list)
    # The form fields of each token request, in order.
    requests: list[dict[str, str]] = field(default_factory=list)
    fail_with: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    async def token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        with self.lock:
            self.requests.append(form)
            if self.fail_with is not None:
                last = self.issued[-1] if self.issued else ""
                return JSONResponse(
                    {"error": self.fail_with, "error_description": f"rejected token {last}"},
                    status_code=400,
                )
            if form.get("grant_type") not in (TOKEN_EXCHANGE, JWT_BEARER):
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            lifetime = self.lifetimes[min(len(self.issued), len(self.lifetimes) - 1)]
            token = f"ya29.test-token-{len(self.issued) + 1}"
            self.issued.append(token)
        return JSONResponse(
            {
                "access_token": token,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": lifetime,
            }
        )


@contextmanager
def token_server(*lifetimes: int) -> Iterator[TokenServer]:
    server = TokenServer(lifetimes=list(lifetimes) or [3600])
    app = Starlette(routes=[Route("/token", server.token, methods=["POST"])])
    with serve_in_thread(app) as url:
        server.url = url
        yield server


def external_account_file(
    server: TokenServer, subject_token_file: str, *, quota_project: str | None = None
) -> str:
    """Workload identity federation config, as GitHub Actions' google-github-actions/auth writes.

    A workforce-pool audience: google-auth then does not look the project up on
    cloudresourcemanager.googleapis.com (a workload-pool audience names a project
    number, which it would).
    """
    config = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/locations/global/workforcePools/ci/providers/github",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": server.token_url,
        "credential_source": {"file": subject_token_file},
    }
    if quota_project:
        config["quota_project_id"] = quota_project
    return json.dumps(config)


def service_account_file(server: TokenServer) -> str:
    """A service-account key whose token_uri is the test server (a fresh RSA key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "my-project",
            "private_key_id": "0123456789abcdef",
            "private_key": pem,
            "client_email": "tuner@my-project.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": server.token_url,
        }
    )
