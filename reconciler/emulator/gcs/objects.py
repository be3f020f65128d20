"""Cloud Storage objects kept by the emulator, and their JSON API resource form.

One live generation per object (no versioning): what reconciler needs is a
generation that changes on every write, the checksums the real service reports
(``md5Hash``, ``crc32c``, both base64) and preconditions on the generation.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote

from reconciler.emulator.cloud_db import CloudRecords

# Cloud Storage takes objects up to 5 TiB; an in-memory emulator bounds them so
# one upload cannot exhaust the machine (Vertex tuning files are at most 1 GB).
MAX_OBJECT_BYTES = 64 * 1024 * 1024


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()

try:
    from google_crc32c import value as _fast_crc32c
except ImportError:  # the emulator extra does not need it
    _fast_crc32c = None


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum Cloud Storage computes; the stdlib has only CRC-32.

    google-crc32c's C code when it is installed (it comes with google-cloud-storage):
    a pure-Python loop takes about a second for 10 MB.
    """
    if _fast_crc32c is not None:
        return int(_fast_crc32c(data))
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def rfc3339_millis(epoch_seconds: float) -> str:
    """Cloud Storage writes timestamps with milliseconds: ``2023-11-14T22:13:20.000Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class StoredObject:
    bucket: str
    name: str
    data: bytes
    content_type: str
    generation: int
    created: float
    metadata: dict[str, str] = field(default_factory=dict)
    metageneration: int = 1

    # Computed once: an object's bytes never change (a write makes a new StoredObject).
    @cached_property
    def md5_hash(self) -> str:
        return base64.b64encode(hashlib.md5(self.data).digest()).decode()

    @cached_property
    def crc32c(self) -> str:
        return base64.b64encode(crc32c(self.data).to_bytes(4, "big")).decode()

    @property
    def etag(self) -> str:
        """The real service's etag: generation and metageneration as protobuf varints, base64."""
        raw = b"\x08" + _varint(self.generation) + b"\x10" + _varint(self.metageneration)
        return base64.b64encode(raw).decode()

    def resource(self, base_url: str) -> dict[str, object]:
        """The ``storage#object`` resource; links point at the emulator that was asked."""
        path = f"b/{quote(self.bucket, safe='')}/o/{quote(self.name, safe='')}"
        base = base_url.rstrip("/")
        created = rfc3339_millis(self.created)
        body: dict[str, object] = {
            "kind": "storage#object",
            "id": f"{self.bucket}/{self.name}/{self.generation}",
            "selfLink": f"{base}/storage/v1/{path}",
            "mediaLink": f"{base}/download/storage/v1/{path}?generation={self.generation}&alt=media",
            "name": self.name,
            "bucket": self.bucket,
            "generation": str(self.generation),
            "metageneration": str(self.metageneration),
            "contentType": self.content_type,
            "storageClass": "STANDARD",
            "size": str(len(self.data)),
            "md5Hash": self.md5_hash,
            "crc32c": self.crc32c,
            "etag": self.etag,
            "timeCreated": created,
            "updated": created,
            "timeStorageClassUpdated": created,
            "timeFinalized": created,
        }
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        return body


@dataclass
class UploadSession:
    """A resumable upload under way: what was asked at its start and the bytes so far."""

    bucket: str
    name: str
    content_type: str
    metadata: dict[str, str]
    # Generation preconditions of the start request, checked again when it completes.
    if_generation_match: int | None
    if_generation_not_match: int | None
    total: int | None  # X-Upload-Content-Length, if the client declared it
    data: bytearray = field(default_factory=bytearray)
    done: StoredObject | None = None


class ObjectStore:
    """Objects by (bucket, name). Buckets exist as soon as something is written to them."""

    def __init__(self, records: CloudRecords | None = None) -> None:
        self._objects: dict[tuple[str, str], StoredObject] = {}
        self._last_generation = 0
        self._records = records
        # Resumable uploads by upload id; in memory only, so they end with the process.
        self.uploads: dict[str, UploadSession] = {}
        if records is not None:
            for data in records.load("object"):
                stored = _from_json(data)
                self._objects[(stored.bucket, stored.name)] = stored
                self._last_generation = max(self._last_generation, stored.generation)

    def clear(self) -> None:
        self._objects.clear()
        self.uploads.clear()
        self._last_generation = 0
        if self._records is not None:
            self._records.clear()

    def get(self, bucket: str, name: str) -> StoredObject | None:
        return self._objects.get((bucket, name))

    def put(
        self,
        *,
        bucket: str,
        name: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str],
        now: float,
    ) -> StoredObject:
        # Generations are microsecond timestamps, as on the real service, and strictly
        # increase, so a rewrite within one clock tick still gets a new generation.
        generation = max(int(now * 1_000_000), self._last_generation + 1)
        self._last_generation = generation
        stored = StoredObject(
            bucket=bucket,
            name=name,
            data=data,
            content_type=content_type,
            generation=generation,
            created=now,
            metadata=metadata,
        )
        self._objects[(bucket, name)] = stored
        if self._records is not None:
            self._records.save("object", f"{bucket}/{name}", _to_json(stored))
        return stored

    def delete(self, bucket: str, name: str) -> None:
        self._objects.pop((bucket, name), None)
        if self._records is not None:
            self._records.remove("object", f"{bucket}/{name}")

    def in_bucket(self, bucket: str) -> Iterator[StoredObject]:
        """The bucket's objects in name order, as the JSON API lists them."""
        names = sorted(name for (b, name) in self._objects if b == bucket)
        return (self._objects[(bucket, name)] for name in names)


def _to_json(stored: StoredObject) -> dict[str, Any]:
    data = asdict(stored)
    data["data"] = base64.b64encode(stored.data).decode()
    return data


def _from_json(data: dict[str, Any]) -> StoredObject:
    return StoredObject(**{**data, "data": base64.b64decode(data["data"])})
