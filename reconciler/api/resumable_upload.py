"""A Cloud Storage resumable upload: large datasets go in 8 MiB chunks and survive lost answers.

Above ``RESUMABLE_THRESHOLD`` (8 MiB, where google-cloud-storage switches too)
one request per object would resend everything after any failure, so the
upload opens a session (``uploadType=resumable``, answered with its URI in
``Location``) and sends chunks with ``Content-Range``. A chunk whose answer
is lost is not blindly resent: the service is asked how far it got
(``Content-Range: bytes */TOTAL``, answered ``308`` with ``Range: bytes=0-N``)
and the upload goes on from there, as the protocol documents.

The session URI is only ever used on the storage endpoint's own origin (a
Location elsewhere would receive our token) and only its path is logged: the
``upload_id`` in its query lets anyone holding it write to the session.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.api.retry import RETRYABLE_STATUS, RetryPolicy
from reconciler.api.session import ApiSession, Reply
from reconciler.errors import ApiError, FailedPreconditionError, NotFoundError, TransportError

RESUMABLE_THRESHOLD = 8 * 1024 * 1024
# Every chunk but the last must be a multiple of 256 KiB.
CHUNK_GRANULARITY = 256 * 1024
CHUNK_BYTES = 8 * 1024 * 1024
PRECONDITION_FAILED = 412
RESUME_INCOMPLETE = 308


@dataclass(frozen=True)
class _SessionUri:
    path: str  # relative to the storage endpoint, as ApiSession takes it
    params: dict[str, str]


class ResumableUpload:
    """Uploads through ``session`` (retried calls) and ``chunk_session`` (one attempt each)."""

    def __init__(
        self,
        *,
        endpoint: str,
        session: ApiSession,
        chunk_session: ApiSession,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        rng: random.Random,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        if chunk_bytes <= 0 or chunk_bytes % CHUNK_GRANULARITY:
            raise ValueError(f"chunk_bytes must be a positive multiple of {CHUNK_GRANULARITY}")
        self._base = httpx.URL(endpoint.rstrip("/") + "/")
        self._session = session
        self._chunks = chunk_session
        self._retry = retry
        self._sleep = sleep
        self._rng = rng
        self._chunk_bytes = chunk_bytes

    def upload(
        self, bucket: str, name: str, data: bytes, *, content_type: str, bucket_path: str
    ) -> dict[str, Any] | None:
        """The new object's resource, or None when the object exists (``ifGenerationMatch=0``)."""
        total = len(data)
        try:
            started = self._session.call(
                "POST",
                f"upload/storage/v1/b/{bucket_path}/o",
                params={"uploadType": "resumable", "name": name, "ifGenerationMatch": 0},
                body={"name": name, "contentType": content_type},
                headers={
                    "x-upload-content-type": content_type,
                    "x-upload-content-length": str(total),
                },
            )
        except FailedPreconditionError as error:
            if error.code == PRECONDITION_FAILED:
                return None
            raise
        uri = self._session_uri(started, bucket=bucket, name=name)
        offset = 0
        failures = 0
        waited = 0.0
        while True:
            end = min(offset + self._chunk_bytes, total)
            try:
                reply = self._chunks.call(
                    "PUT",
                    uri.path,
                    params=uri.params,
                    raw=(data[offset:end], content_type),
                    headers={"content-range": f"bytes {offset}-{end - 1}/{total}"},
                )
            except ApiError as error:
                if error.code == PRECONDITION_FAILED:
                    return None  # written by someone else while we uploaded
                failures += 1
                delay = self._retry.backoff(retry_number=failures, rng=self._rng)
                delay = max(delay, error.retry_after or 0.0)
                if (
                    not _retryable(error)
                    or failures >= self._retry.max_attempts
                    or waited + delay > self._retry.max_total_delay
                ):
                    raise
                waited += delay
                self._sleep(delay)
                try:
                    reply = self._status(uri, total)
                except NotFoundError:
                    # The session ended: its last chunk was refused (412) or it expired.
                    return None
            if reply.status != RESUME_INCOMPLETE:
                return reply.data
            persisted = _persisted(reply.headers.get("range"), total=total)
            if persisted > offset:
                failures = 0  # progress: the failure budget is per chunk
            else:
                failures += 1
                if failures >= self._retry.max_attempts:
                    raise ApiError(
                        f"the resumable upload of gs://{bucket}/{name} makes no progress: "
                        f"the service holds {persisted} of {total} bytes",
                        method="PUT",
                        path=f"/upload/storage/v1/b/{bucket}/o",
                    )
            offset = persisted

    def _status(self, uri: _SessionUri, total: int) -> Reply:
        """How far the upload got (``308`` with ``Range``), or the object if it is complete."""
        return self._session.call(
            "PUT",
            uri.path,
            params=uri.params,
            raw=(b"", "application/octet-stream"),
            headers={"content-range": f"bytes */{total}"},
        )

    def _session_uri(self, started: Reply, *, bucket: str, name: str) -> _SessionUri:
        location = started.headers.get("location", "")
        try:
            url = httpx.URL(location)
        except httpx.InvalidURL:
            url = httpx.URL("")
        base = self._base
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        if not location or not same_origin or not url.path.startswith(base.path):
            raise ApiError(
                f"the resumable upload of gs://{bucket}/{name} was answered without a "
                "session URI on the storage endpoint",
                method="POST",
                path=f"/upload/storage/v1/b/{bucket}/o",
            )
        return _SessionUri(url.path[len(base.path) :], dict(url.params.items()))


def _persisted(header: str | None, *, total: int) -> int:
    """Bytes the service holds, from ``Range: bytes=0-N`` (none: nothing yet)."""
    if not header:
        return 0
    first, _, last = header.removeprefix("bytes=").partition("-")
    if first != "0" or not last.isdigit() or int(last) >= total:
        raise ApiError(f"a resumable upload answered an unusable Range: {header[:60]!r}")
    return int(last) + 1


def _retryable(error: ApiError) -> bool:
    return isinstance(error, TransportError) or error.code in RETRYABLE_STATUS
