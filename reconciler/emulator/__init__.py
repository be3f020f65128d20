"""A local, faithful emulator of the Gemini API v1beta tuned-model surface.

It imports nothing from the rest of ``reconciler``: it is a second, independent
reading of the wire format, so a misreading in the client cannot be mirrored
here and pass unnoticed.

    from reconciler.emulator import EmulatorConfig, create_app, serve
"""

from __future__ import annotations

from reconciler.emulator.app import create_app
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.gateway import ConnectionDropped
from reconciler.emulator.server import serve

__all__ = ["ConnectionDropped", "EmulatorConfig", "create_app", "serve"]
