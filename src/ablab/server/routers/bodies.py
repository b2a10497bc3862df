"""The documented body of a route that reads its body itself.

FastAPI documents a body it parses into a parameter; the hot paths parse theirs with orjson
and the decision webhook looks for a key in its own, so those routes hand the document the
schema of what they read.
"""

from __future__ import annotations

from typing import Any

from ablab.contract.base import Schema

__all__ = ["json_body"]


def json_body(model: type[Schema], *, required: bool = True) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose JSON body is ``model``."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
