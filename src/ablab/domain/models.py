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
    "ArtifactKind",
    "BackendKind",
    "Model",
    "ModelVersion",
    "artifact_kind",
    "validate_backend",
]

ARTIFACT_SUFFIXES = (".joblib", ".pkl", ".pickle", ".skops")
# ``package.module:attribute``, the form entry points use.
_CALLABLE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", re.ASCII)
# MLflow's model URIs: a registered version or alias, or a path in a run's artifacts.
_MLFLOW = re.compile(r"models:/[\w.-]+(/\d+|@[\w.-]+)|runs:/[\w-]+/[\w.-]+(/[\w.-]+)*", re.ASCII)


class BackendKind(StrEnum):
    ENDPOINT = "endpoint"
    ARTIFACT = "artifact"


class ArtifactKind(StrEnum):
    """How an in-process model is found."""

    FILE = "file"  # a joblib, pickle or skops file
    CALLABLE = "callable"  # ``module:attribute``
    MLFLOW = "mlflow"  # ``models:/name/version``, ``models:/name@alias``, ``runs:/id/path``


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    project_id: str
    name: str
    created_at: datetime
    description: str = ""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """``radiology-v1`` / ``2.0.0`` served from ``backend_uri`` (a URL, a file, ``module:attr``,
    an MLflow model URI)."""

    id: str
    model_id: str
    version: str
    backend: BackendKind
    backend_uri: str
    created_at: datetime


def validate_backend(backend: BackendKind, uri: str) -> str:
    """Check the form of a backend location and return it.

    Endpoints are http(s) URLs with a host. Artifacts are a joblib/pickle/skops file path, a
    ``module:attr`` Python callable or an MLflow model URI (see :func:`artifact_kind`);
    whether the file exists is checked where it is read.

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
                details={"field": "endpoint", "endpoint": uri},
            )
        return uri
    artifact_kind(uri)
    return uri


def artifact_kind(uri: str) -> ArtifactKind:
    """What kind of in-process model ``uri`` names.

    Examples:
        >>> [artifact_kind(u).value for u in ("m/v2.joblib", "acme.models:predict")]
        ['file', 'callable']
        >>> [artifact_kind(u).value for u in ("models:/triage/3", "runs:/4f2a/model")]
        ['mlflow', 'mlflow']

    Raises:
        ValidationError: it is none of a model file, a callable and an MLflow model URI.
    """
    if uri.startswith(("models:/", "runs:/")):
        if _MLFLOW.fullmatch(uri) and ".." not in uri.split("/"):
            return ArtifactKind.MLFLOW
    elif uri.lower().endswith(ARTIFACT_SUFFIXES):
        return ArtifactKind.FILE
    elif _CALLABLE.fullmatch(uri):
        return ArtifactKind.CALLABLE
    raise ValidationError(
        f"invalid artifact {uri!r}: expected a {'/'.join(ARTIFACT_SUFFIXES)} file, "
        "a module:attribute callable, or an MLflow model (models:/name/version, "
        "models:/name@alias, runs:/run_id/path)",
        details={"field": "artifact", "artifact": uri},
    )
