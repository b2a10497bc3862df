"""The ablab server: ``create_app(settings)`` and ``ablab serve``."""

from ablab.server.app import create_app

__all__ = ["create_app"]
