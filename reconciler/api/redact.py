"""Belt and braces for secrets in logs and in what ``-v`` prints.

The client never formats a credential into a log record, but a third-party
library (or a future change) might. ``SecretFilter`` rewrites any record on
the loggers it is attached to so a registered secret becomes ``***``;
``ScrubbingFormatter`` does the same to every formatted line a handler writes
(tracebacks included), and ``scrub_known`` to any text, such as the traceback
``-v`` prints for an error: an exception from the HTTP stack can quote what
the server sent (a reason phrase, a malformed status or header line), which
may echo the key.
"""

from __future__ import annotations

import logging
import threading

LOGGER_NAME = "reconciler.api"
# Loggers whose records could quote a request: ours and the HTTP stack below us.
GUARDED_LOGGERS = (LOGGER_NAME, "httpx", "httpcore")


class SecretFilter(logging.Filter):
    """Replaces registered secrets in a record's message and arguments."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s)

    def scrub(self, text: str) -> str:
        with self._lock:
            secrets = tuple(self._secrets)
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = tuple(self._secrets)
        if not secrets:
            return True
        message = record.getMessage()
        clean = message
        for secret in secrets:
            clean = clean.replace(secret, "***")
        if clean != message:
            record.msg = clean
            record.args = None
        return True


_FILTER = SecretFilter()
_INSTALLED = False
_INSTALL_LOCK = threading.Lock()


def scrub_known(text: str) -> str:
    """``text`` with every secret registered with ``protect`` replaced by ``***``."""
    return _FILTER.scrub(text)


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose output (message, arguments, traceback) never holds a registered secret."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub_known(super().format(record))


def protect(*secrets: str | None) -> None:
    """Register ``secrets`` and make sure the filter guards the HTTP loggers."""
    global _INSTALLED
    known = [s for s in secrets if s]
    if not known:
        return
    _FILTER.add(*known)
    with _INSTALL_LOCK:
        if not _INSTALLED:
            for name in GUARDED_LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
            _INSTALLED = True
