"""Cloud Storage for Vertex AI tuning datasets: read an object's metadata, upload if absent.

Only the two JSON API calls a content-addressed upload needs. The object's
name is the hash of its bytes, so "absent" is the only precondition that
matters: ``ifGenerationMatch=0`` makes a repeated or retried upload a 412
instead of a second write, and the metadata (generation, md5Hash, crc32c)
tells whether what is stored is what we meant to store.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx

from reconciler.api.credentials import VERTEX_AUTH_HINT, Credentials
from reconciler.api.resumable_upload import CHUNK_BYTES, RESUMABLE_THRESHOLD, ResumableUpload
from reconciler.api.retry import RetryPolicy
from reconciler.api.session import ApiSession
from reconciler.errors import ApiError, FailedPreconditionError, NotFoundError, UsageError

STORAGE_ENDPOINT = "https://storage.googleapis.com"
PRECONDITION_FAILED = 412
# Metadata values come from a server: bound what is kept of them.
MAX_CHECKSUM_CHARS = 64


@dataclass(frozen=True)
class ObjectInfo:
    """What identifies one stored version of an object."""

    bucket: str
    name: str
    generation: int
    size: int
    md5_hash: str  # base64, as Cloud Storage reports it
    crc32c: str  # base64

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}"


class StorageClient:
    """Cloud Storage JSON API at ``endpoint`` (the emulator serves it on its own port)."""

    def __init__(
        self,
        *,
        credentials: Credentials,
        endpoint: str = STORAGE_ENDPOINT,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, shared safely
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        if credentials.api_key:
            raise UsageError(
                "Cloud Storage takes an OAuth access token, not an API key",
                hint="use Application Default Credentials or --access-token",
            )
        rng = rng or random.Random()

        def session(retry: RetryPolicy) -> ApiSession:
            return ApiSession(
                endpoint=endpoint,
                credentials=credentials,
                transport=transport,
                retry=retry,
                connect_timeout=10.0,
                read_timeout=300.0,  # an upload of a large dataset
                request_timeout=3600.0,  # the same: a whole upload, not one read
                sleep=sleep,
                clock=clock,
                rng=rng,
                max_connections=8,
                api_version="",
                auth_hint=VERTEX_AUTH_HINT,
                notice=notice,
            )

        self._session = session(retry)
        # One attempt per chunk: after a failure the upload asks how far it got first.
        self._chunk_session = session(replace(retry, max_attempts=1))
        self._resumable = ResumableUpload(
            endpoint=endpoint,
            session=self._session,
            chunk_session=self._chunk_session,
            retry=retry,
            sleep=sleep,
            rng=rng,
            chunk_bytes=chunk_bytes,
        )

    def close(self) -> None:
        self._session.close()
        self._chunk_session.close()

    def get(self, bucket: str, name: str) -> ObjectInfo | None:
        """The object's current metadata, or None if there is no such object."""
        try:
            reply = self._session.call("GET", f"storage/v1/b/{_segment(bucket)}/o/{_segment(name)}")
        except NotFoundError:
            return None
        return _object_info(reply.data, bucket=bucket, name=name)

    def upload_if_absent(
        self, bucket: str, name: str, data: bytes, *, content_type: str
    ) -> ObjectInfo | None:
        """Write the object unless it exists; None when it already did (a 412).

        A retried upload whose first attempt reached the server also ends in 412:
        either way the caller reads the metadata of what is there. Above 8 MiB the
        bytes go in chunks through a resumable upload (``resumable_upload``).
        """
        if len(data) > RESUMABLE_THRESHOLD:
            resource = self._resumable.upload(
                bucket, name, data, content_type=content_type, bucket_path=_segment(bucket)
            )
            return None if resource is None else _object_info(resource, bucket=bucket, name=name)
        try:
            reply = self._session.call(
                "POST",
                f"upload/storage/v1/b/{_segment(bucket)}/o",
                params={"uploadType": "media", "name": name, "ifGenerationMatch": 0},
                raw=(data, content_type),
                tolerate_after_uncertain=frozenset({PRECONDITION_FAILED}),
            )
        except FailedPreconditionError as error:
            if error.code == PRECONDITION_FAILED:
                return None
            raise
        if reply.status == PRECONDITION_FAILED:
            return None
        return _object_info(reply.data, bucket=bucket, name=name)


def _segment(value: str) -> str:
    """One path segment: an object name's slashes are part of the name (``%2F``)."""
    return quote(value, safe="")


def _object_info(data: dict[str, Any], *, bucket: str, name: str) -> ObjectInfo:
    try:
        generation = int(data["generation"])
        size = int(data["size"])
        md5_hash = str(data["md5Hash"])[:MAX_CHECKSUM_CHARS]
        crc32c = str(data["crc32c"])[:MAX_CHECKSUM_CHARS]
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(
            f"the metadata of gs://{bucket}/{name} lacks generation, size or checksums"
        ) from exc
    return ObjectInfo(bucket, name, generation, size, md5_hash, crc32c)
