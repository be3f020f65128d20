"""API credentials: the real service's answer to a wrong key, a bad token or none at all.

Checked by the gateway on every API request and by the control surface on
every request that changes something.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from reconciler.emulator.wire import ApiError

INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."
NO_CREDENTIALS_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_TOKEN_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def check_credentials(request: Request, expected: str | None) -> None:
    """Without --api-key anything goes; with it, the real service's answers for each case.

    No credentials at all gets 403 PERMISSION_DENIED, as Google's front end answers
    a call without a key; a Bearer token is accepted only if it equals the key.
    """
    if expected is None:
        return
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if key is not None:
        if not hmac.compare_digest(key.encode(), expected.encode()):
            raise ApiError(
                400,
                INVALID_KEY_MESSAGE,
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": INVALID_KEY_MESSAGE,
                    },
                ],
            )
        return
    authorization = request.headers.get("authorization", "")
    if authorization:
        token = authorization.removeprefix("Bearer ").strip()
        if not authorization.startswith("Bearer ") or not hmac.compare_digest(
            token.encode(), expected.encode()
        ):
            raise ApiError(401, BAD_TOKEN_MESSAGE)
        return
    raise ApiError(403, NO_CREDENTIALS_MESSAGE)
