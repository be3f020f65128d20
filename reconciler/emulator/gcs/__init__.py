"""A minimal Cloud Storage JSON API: enough to upload, check and read tuning datasets.

from reconciler.emulator.gcs.routes import ROUTES   # (method, path template, handler)
"""
