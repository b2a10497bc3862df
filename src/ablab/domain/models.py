"""Models and their versions, each served by a backend: an HTTP endpoint or a local artifact."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from ablab.errors import ValidationError

__all__ = [
    "ARTIFACT_SUFFIXES",
    "BackendKind",
    "Model",
    "ModelVersion",
    "validate_backend",
]

ARTIFACT_SUFFIXES = (".joblib", ".pkl", ".pickle", ".skops")
# ``package.module:attribute``, the form entry points use.
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class BackendKind(StrEnum):
    ENDPOINT = "endpoint"
    ARTIFACT = "artifact"


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    project_id: str
    name: str
    created_at: datetime
    description: str = ""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """``radiology-v1`` / ``2.0.0`` served from ``backend_uri`` (a URL, a file, ``module:attr``)."""

    id: str
    model_id: str
    version: str
    backend: BackendKind
    backend_uri: str
    created_at: datetime


def validate_backend(backend: BackendKind, uri: str) -> str:
    """Check the form of a backend location and return it.

    Endpoints are http(s) URLs with a host. Artifacts are a joblib/pickle/skops file path or a
    ``module:attr`` Python callable; whether the file exists is checked where it is read.

    Raises:
        ValidationError: the location does not have the expected form.
    """
    if backend is BackendKind.ENDPOINT:
        try:
            parts = urlsplit(uri)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError(
                f"invalid endpoint {uri!r}: expected an http:// or https:// URL",
                details={"endpoint": uri},
            )
        return uri
    if _CALLABLE.match(uri) or uri.lower().endswith(ARTIFACT_SUFFIXES):
        return uri
    raise ValidationError(
        f"invalid artifact {uri!r}: expected a {'/'.join(ARTIFACT_SUFFIXES)} file "
        "or a module:attribute callable",
        details={"artifact": uri},
    )
