"""The Python SDK."""

from ablab.client._client import Client

__all__ = ["Client"]
