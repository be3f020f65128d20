"""Page tokens of the Vertex AI list calls: the position a page ended at, bound to its request.

A token carries the ``seq`` of the last record on its page and a checksum of
the request's parent, page size and filter, so a token is refused by a list
with another filter or size (as the service refuses them) rather than silently
paging something else.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib

from reconciler.emulator.wire import invalid


def binding(*parts: object) -> int:
    """What a token is bound to: the request's parent, page size and filter."""
    return zlib.crc32("\0".join(str(p) for p in parts).encode())


def token(seq: int, bound: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([seq, bound]).encode()).decode().rstrip("=")


def cursor(text: str, bound: int) -> int:
    """The seq the previous page ended at (lists go newest first: the next page is older)."""
    if not text:
        return 0
    try:
        seq, found = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if found != bound or not isinstance(seq, int):
            raise ValueError
    except (ValueError, TypeError, binascii.Error):
        raise invalid(
            "Invalid page token: it does not belong to this list request (filter and page size)."
        ) from None
    return seq
