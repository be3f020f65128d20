"""Resumable uploads after their start: chunks, status queries, cancel (the session URI).

google-cloud-storage uploads objects over 8 MiB this way, and so does
reconciler. ``POST .../o?uploadType=resumable`` (``handlers._start_resumable``)
answers the session URI in ``Location``; each ``PUT`` to it carries
``Content-Range: bytes START-END/TOTAL`` (``*`` while the total is unknown)
and is answered ``308`` with ``Range: bytes=0-N`` (what is persisted) until the
last byte, then ``200`` with the object resource. ``PUT`` with
``Content-Range: bytes */TOTAL`` and no body asks how far it got, which is how
a client resumes after a lost answer. ``DELETE`` cancels (``499``).

Emulator choices, where the documentation leaves room: a chunk other than the
last must be a multiple of 256 KiB (400 otherwise); bytes re-sent that were
already persisted are skipped, a chunk that leaves a gap is 400; the
generation preconditions of the start are checked at the start and again at
the end; sessions live in memory (not in ``--db``) and do not expire.
"""

from __future__ import annotations

import re

from starlette.responses import Response

from reconciler.emulator.call import Call
from reconciler.emulator.gcs.errors import StorageError, invalid
from reconciler.emulator.gcs.handlers import check_generation
from reconciler.emulator.gcs.objects import MAX_OBJECT_BYTES, UploadSession
from reconciler.emulator.wire import json_response

CHUNK_GRANULARITY = 256 * 1024
CLIENT_CLOSED_REQUEST = 499
_CONTENT_RANGE = re.compile(r"bytes (?:(?P<start>\d+)-(?P<end>\d+)|\*)/(?P<total>\d+|\*)")


def _session(call: Call) -> tuple[str, UploadSession]:
    upload_id = call.query.get("uploadId", "")
    session = call.emulator.gcs.uploads.get(upload_id)
    if session is None or session.bucket != call.params["bucket"]:
        raise StorageError(404, "No such upload session.", reason="notFound")
    return upload_id, session


def put(call: Call) -> Response:
    upload_id, session = _session(call)
    if session.done is not None:
        return json_response(session.done.resource(call.base_url))
    body = call.raw_body
    header = call.headers.get("content-range")
    if header is None:  # the whole object in one request
        header = f"bytes 0-{len(body) - 1}/{len(body)}" if body else "bytes */0"
    found = _CONTENT_RANGE.fullmatch(header.strip())
    if found is None:
        raise invalid(f"Invalid Content-Range: {header[:100]}")
    total = int(found["total"]) if found["total"] != "*" else None
    if total is not None and session.total is not None and total != session.total:
        raise invalid(
            f"The upload was started with X-Upload-Content-Length {session.total}, not {total}."
        )
    if total is not None and total > MAX_OBJECT_BYTES:
        del call.emulator.gcs.uploads[upload_id]
        raise invalid(f"The emulator stores objects up to {MAX_OBJECT_BYTES} bytes.")
    if found["start"] is None:  # a status query
        if body:
            raise invalid("Content-Range bytes */N carries no body.")
    else:
        _append(session, int(found["start"]), int(found["end"]), body, total)
    if total is not None and len(session.data) == total:
        return _finish(call, upload_id, session)
    return _incomplete(len(session.data))


def _append(session: UploadSession, start: int, end: int, body: bytes, total: int | None) -> None:
    if end < start or end - start + 1 != len(body):
        raise invalid(
            f"Content-Range bytes {start}-{end} does not match the {len(body)} bytes sent."
        )
    have = len(session.data)
    if start > have:
        raise invalid(f"The chunk starts at byte {start}; {have} bytes are persisted.")
    if total is not None and end + 1 > total:
        raise invalid(f"The chunk ends at byte {end}, past the total of {total}.")
    last = total is not None and end + 1 == total
    if not last and len(body) % CHUNK_GRANULARITY:
        raise invalid(
            f"A chunk other than the last must be a multiple of {CHUNK_GRANULARITY} bytes, "
            f"not {len(body)}."
        )
    if end + 1 > MAX_OBJECT_BYTES:
        raise invalid(f"The emulator stores objects up to {MAX_OBJECT_BYTES} bytes.")
    session.data += body[have - start :]


def _finish(call: Call, upload_id: str, session: UploadSession) -> Response:
    store = call.emulator.gcs
    try:
        check_generation(
            store.get(session.bucket, session.name),
            match=session.if_generation_match,
            not_match=session.if_generation_not_match,
        )
    except StorageError:
        del store.uploads[upload_id]
        raise
    session.done = store.put(
        bucket=session.bucket,
        name=session.name,
        data=bytes(session.data),
        content_type=session.content_type,
        metadata=session.metadata,
        now=call.now,
    )
    session.data = bytearray()  # the object holds the bytes now
    return json_response(session.done.resource(call.base_url))


def _incomplete(persisted: int) -> Response:
    """308 "Resume Incomplete"; ``Range`` only once something is persisted."""
    headers = {"Range": f"bytes=0-{persisted - 1}"} if persisted else {}
    return Response(status_code=308, headers=headers)


def cancel(call: Call) -> Response:
    upload_id, _ = _session(call)
    del call.emulator.gcs.uploads[upload_id]
    return Response(status_code=CLIENT_CLOSED_REQUEST)
