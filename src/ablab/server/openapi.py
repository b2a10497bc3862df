"""The OpenAPI document of the server, as committed in ``docs/openapi.json``.

``python -m ablab.server.openapi > docs/openapi.json`` (``make openapi``) writes it; a test
fails when the app's document and the committed copy differ, so a change to the API is
always a reviewed change to that file.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ablab.server.app import create_app
from ablab.settings import Settings

__all__ = ["openapi_document"]


def openapi_document() -> dict[str, Any]:
    """The document, without starting the app (nothing is opened)."""
    document: dict[str, Any] = create_app(Settings()).openapi()
    return document


if __name__ == "__main__":
    sys.stdout.write(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")
