"""The Gemini API client: auth, retries, pagination, operations (httpx inside, never outside).

Public interface::

    Credentials.resolve(*, api_key, access_token, user_project, endpoint) -> Credentials
    client.GeminiClient(*, endpoint, credentials, transport=None, retry=RetryPolicy(), ...)
    RetryPolicy(max_attempts=8, initial_delay=0.5, multiplier=2.0, max_delay=20.0,
                max_total_delay=120.0, budget=500)
    BaseModelInfo, GenerateResult, ProgressUpdate   (values returned by the client)

Callers above ``reconciler.providers`` never import a concrete client.

Vertex AI: ``vertex_client.VertexClient`` (tuning jobs created exactly once by an
idempotency label; the tuned Model and Endpoint: get, patch, undeploy, delete,
``remove_tuned_model``), ``vertex_datasets.stage_dataset`` (a Dataset as
``contents`` JSONL, uploaded content-addressed through
``vertex_storage.StorageClient``), and ``google_tokens.vertex_credentials``
(``--access-token``, nothing for an emulator, or Application Default Credentials
through google-auth, refreshed before expiry; that module imports google-auth,
so it is not imported here).

Every failure is a ``reconciler.errors.ApiError`` subclass (``TransportError``
when there was no HTTP answer) or a ``CredentialsError`` / ``UsageError``
raised before any request.
"""

import reconciler.api._quiet_httpx  # noqa: F401  (first: before anything imports httpx)
from reconciler.api.convert import BaseModelInfo, GenerateResult
from reconciler.api.credentials import Credentials, is_local_endpoint
from reconciler.api.retry import RetryPolicy
from reconciler.api.waiting import ProgressUpdate, TuningPoller

__all__ = [
    "BaseModelInfo",
    "Credentials",
    "GenerateResult",
    "ProgressUpdate",
    "RetryPolicy",
    "TuningPoller",
    "is_local_endpoint",
]
