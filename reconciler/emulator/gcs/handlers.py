"""The Cloud Storage JSON API calls reconciler uses: upload, metadata, download, list, delete.

Paths as google-cloud-storage sends them: uploads to ``/upload/storage/v1``,
metadata and lists to ``/storage/v1``, downloads to ``/download/storage/v1``
(or ``alt=media`` on the metadata path).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from reconciler.emulator.call import Call
from reconciler.emulator.gcs import multipart
from reconciler.emulator.gcs.errors import (
    NotModified,
    StorageError,
    invalid,
    no_such_object,
    precondition_failed,
)
from reconciler.emulator.gcs.objects import MAX_OBJECT_BYTES, StoredObject, UploadSession
from reconciler.emulator.wire import json_response

_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")
MAX_OBJECT_NAME_BYTES = 1024
DEFAULT_PAGE = 1000
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def _bucket(call: Call) -> str:
    bucket = call.params["bucket"]
    if not _BUCKET.fullmatch(bucket):
        raise invalid(f"Invalid bucket name: '{bucket}'")
    return bucket


def _object_name(name: str) -> str:
    encoded = name.encode("utf-8", "surrogatepass")
    if not name or len(encoded) > MAX_OBJECT_NAME_BYTES or "\r" in name or "\n" in name:
        raise invalid("The specified object name is not valid.")
    return name


def _generation_condition(call: Call, key: str) -> int | None:
    raw = call.query.get(key)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"Invalid argument for {key}: '{raw}'", reason="invalidParameter") from None


def _check_write_preconditions(call: Call, existing: StoredObject | None) -> None:
    """``ifGenerationMatch=0``: only if absent, so a content-addressed upload is idempotent."""
    check_generation(
        existing,
        match=_generation_condition(call, "ifGenerationMatch"),
        not_match=_generation_condition(call, "ifGenerationNotMatch"),
    )


def check_generation(
    existing: StoredObject | None, *, match: int | None, not_match: int | None
) -> None:
    """412 unless the object's generation (0: absent) meets both conditions."""
    current = existing.generation if existing else 0
    if match is not None and match != current:
        raise precondition_failed()
    if not_match is not None and not_match == current:
        raise precondition_failed()


def get_bucket(call: Call) -> Response:
    """Any well-formed bucket exists: the emulator creates buckets on first use."""
    bucket = _bucket(call)
    base = call.base_url.rstrip("/")
    return json_response(
        {
            "kind": "storage#bucket",
            "id": bucket,
            "selfLink": f"{base}/storage/v1/b/{bucket}",
            "name": bucket,
            "metageneration": "1",
            "location": "US",
            "storageClass": "STANDARD",
            "etag": "CAE=",
        }
    )


def upload(call: Call) -> Response:
    bucket = _bucket(call)
    kind = call.query.get("uploadType", "")
    if kind == "media":
        name = call.query.get("name", "")
        data = call.raw_body
        content_type = call.content_type or DEFAULT_CONTENT_TYPE
        metadata: dict[str, Any] = {}
    elif kind == "multipart":
        name, data, content_type, metadata = _multipart(call)
    elif kind == "resumable":
        return _start_resumable(call, bucket)
    else:
        raise invalid(
            "Upload requests must include an uploadType URL parameter and a URL-encoded object name."
        )
    if not name:
        raise StorageError(400, "Required", reason="required")
    name = _object_name(name)
    if len(data) > MAX_OBJECT_BYTES:
        raise invalid(f"The emulator stores objects up to {MAX_OBJECT_BYTES} bytes.")
    store = call.emulator.gcs
    _check_write_preconditions(call, store.get(bucket, name))
    custom = metadata.get("metadata") or {}
    if not isinstance(custom, dict):
        raise invalid("Invalid value for metadata: expected an object.")
    stored = store.put(
        bucket=bucket,
        name=name,
        data=data,
        content_type=content_type,
        metadata={str(k): str(v) for k, v in custom.items()},
        now=call.now,
    )
    return json_response(stored.resource(call.base_url))


def _start_resumable(call: Call, bucket: str) -> Response:
    """Open an upload session: 200 with its URI in ``Location`` (``gcs/resumable.py`` goes on)."""
    metadata: Any = {}
    if call.raw_body.strip():
        try:
            metadata = json.loads(call.raw_body)
        except (ValueError, UnicodeDecodeError):
            raise invalid("The metadata of a resumable upload is not JSON.") from None
    if not isinstance(metadata, dict):
        raise invalid("The metadata of a resumable upload is not a JSON object.")
    name = metadata.get("name") or call.query.get("name", "")
    if not isinstance(name, str) or not name:
        raise StorageError(400, "Required", reason="required")
    name = _object_name(name)
    declared = call.headers.get("x-upload-content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_OBJECT_BYTES):
        raise invalid(f"The emulator stores objects up to {MAX_OBJECT_BYTES} bytes.")
    custom = metadata.get("metadata") or {}
    if not isinstance(custom, dict):
        raise invalid("Invalid value for metadata: expected an object.")
    _check_write_preconditions(call, call.emulator.gcs.get(bucket, name))
    content_type = (
        call.headers.get("x-upload-content-type")
        or metadata.get("contentType")
        or DEFAULT_CONTENT_TYPE
    )
    upload_id = secrets.token_urlsafe(24)
    call.emulator.gcs.uploads[upload_id] = UploadSession(
        bucket=bucket,
        name=name,
        content_type=str(content_type),
        metadata={str(k): str(v) for k, v in custom.items()},
        if_generation_match=_generation_condition(call, "ifGenerationMatch"),
        if_generation_not_match=_generation_condition(call, "ifGenerationNotMatch"),
        total=int(declared) if declared is not None else None,
    )
    query = urlencode({"uploadType": "resumable", "name": name, "upload_id": upload_id})
    location = f"{call.base_url.rstrip('/')}/upload/storage/v1/b/{bucket}/o?{query}"
    return Response(
        status_code=200, headers={"Location": location, "X-GUploader-UploadID": upload_id}
    )


def _multipart(call: Call) -> tuple[str, bytes, str, dict[str, Any]]:
    try:
        parts = multipart.parse(call.raw_body, call.content_type)
    except multipart.MultipartError as error:
        raise invalid(f"Invalid multipart request: {error}.") from None
    if len(parts) != 2:
        raise invalid("Invalid multipart request: expected a metadata part and a media part.")
    try:
        metadata = json.loads(parts[0].data or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise invalid("Invalid multipart request: the metadata part is not JSON.") from None
    if not isinstance(metadata, dict):
        raise invalid("Invalid multipart request: the metadata part is not a JSON object.")
    name = metadata.get("name") or call.query.get("name", "")
    if not isinstance(name, str):
        raise invalid("Invalid value for name: expected a string.")
    media_type = parts[1].headers.get("content-type", "")
    content_type = metadata.get("contentType") or media_type or DEFAULT_CONTENT_TYPE
    return name, parts[1].data, str(content_type), metadata


def _existing(call: Call, *, reading: bool) -> StoredObject:
    """The object the path names, after its generation preconditions.

    ``ifGenerationNotMatch`` holding the current generation is 304 Not Modified
    for a read and 412 for a delete, as on the real service.
    """
    bucket = _bucket(call)
    name = _object_name(call.params["object"])
    stored = call.emulator.gcs.get(bucket, name)
    wanted = _generation_condition(call, "generation")
    if stored is None or (wanted is not None and wanted != stored.generation):
        raise no_such_object(bucket, name)
    match = _generation_condition(call, "ifGenerationMatch")
    if match is not None and match != stored.generation:
        raise precondition_failed()
    not_match = _generation_condition(call, "ifGenerationNotMatch")
    if not_match is not None and not_match == stored.generation:
        raise NotModified() if reading else precondition_failed()
    return stored


def get_object(call: Call) -> Response:
    stored = _existing(call, reading=True)
    if call.query.get("alt") == "media":
        return _media(stored)
    return json_response(stored.resource(call.base_url))


def download(call: Call) -> Response:
    return _media(_existing(call, reading=True))


def _media(stored: StoredObject) -> Response:
    headers = {
        "x-goog-generation": str(stored.generation),
        "x-goog-metageneration": str(stored.metageneration),
        "x-goog-hash": f"crc32c={stored.crc32c},md5={stored.md5_hash}",
        "x-goog-stored-content-length": str(len(stored.data)),
        "x-goog-storage-class": "STANDARD",
        "etag": stored.etag,
    }
    return Response(stored.data, headers=headers, media_type=stored.content_type)


def delete_object(call: Call) -> Response:
    stored = _existing(call, reading=False)
    call.emulator.gcs.delete(stored.bucket, stored.name)
    return Response(status_code=204)


def list_objects(call: Call) -> Response:
    bucket = _bucket(call)
    prefix = call.query.get("prefix", "")
    delimiter = call.query.get("delimiter", "")
    raw_size = call.query.get("maxResults", "")
    try:
        size = int(raw_size) if raw_size else DEFAULT_PAGE
    except ValueError:
        raise invalid(f"Invalid argument for maxResults: '{raw_size}'") from None
    size = min(max(size, 1), DEFAULT_PAGE)
    after = _token_key(call.query.get("pageToken", ""))
    items: list[dict[str, object]] = []
    prefixes: list[str] = []
    last = ""
    more = False
    for stored in call.emulator.gcs.in_bucket(bucket):
        if not stored.name.startswith(prefix):
            continue
        rest = stored.name[len(prefix) :]
        key = stored.name
        if delimiter and delimiter in rest:
            key = prefix + rest[: rest.index(delimiter) + len(delimiter)]
        if key <= after or (prefixes and prefixes[-1] == key):
            continue
        if len(items) + len(prefixes) == size:
            more = True
            break
        if key == stored.name:
            items.append(stored.resource(call.base_url))
        else:
            prefixes.append(key)
        last = key
    body: dict[str, object] = {"kind": "storage#objects"}
    if more:
        body["nextPageToken"] = base64.urlsafe_b64encode(last.encode()).decode()
    if prefixes:
        body["prefixes"] = prefixes
    if items:
        body["items"] = items
    return json_response(body)


def _token_key(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("Invalid page token.", reason="invalidParameter") from None
