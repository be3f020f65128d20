"""The client tests' fake API and fake time, for the executor's tests too."""

from tests.api.conftest import client, fake_api, fake_time

__all__ = ["client", "fake_api", "fake_time"]
