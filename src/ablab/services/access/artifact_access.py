"""May an in-process model load from where its artifact points? The operator's policy says.

Checked where a version is registered (a refusal writes nothing) and again where the
gateway loads it, since a stored record may predate the policy or come from the local
CLI. Nothing here imports, opens or unpickles anything: it only resolves paths.

A file outside the allowed folders is refused in the same words whether or not it exists,
and whatever the link or ``..`` it went through, so a refusal tells nothing about the
server's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ablab.domain.models import ArtifactKind, artifact_kind
from ablab.domain.trust import ArtifactPolicy
from ablab.errors import ValidationError

__all__ = ["ArtifactLocation", "check_artifact", "check_attribute_path"]

NO_FILES = (
    "this server loads no model files: its operator can allow folders of them with "
    "ABLAB_ARTIFACT_FOLDERS; or register an endpoint URL"
)
NO_MODULES = (
    "this server loads no module:attribute models: its operator can allow module prefixes "
    "with ABLAB_ARTIFACT_MODULES; or register an endpoint URL"
)
NO_MLFLOW = (
    "this server loads no MLflow models: its operator can name MLflow's tracking server "
    "with ABLAB_MLFLOW_TRACKING_URI; or register an endpoint URL"
)


@dataclass(frozen=True, slots=True)
class ArtifactLocation:
    """Where an allowed artifact is: a file's resolved absolute path, or the URI as given."""

    kind: ArtifactKind
    uri: str


def check_artifact(policy: ArtifactPolicy, artifact: str) -> ArtifactLocation:
    """The location of ``artifact`` if ``policy`` lets it load.

    Raises:
        ValidationError: a malformed artifact, one the policy refuses, or a file that is
            missing from an allowed place (details name the field ``artifact``).
    """
    kind = artifact_kind(artifact)
    if kind is ArtifactKind.FILE:
        return ArtifactLocation(kind, str(_checked_file(policy, artifact)))
    if kind is ArtifactKind.CALLABLE:
        module, _, attribute = artifact.partition(":")
        if not policy.anywhere and not policy.modules:
            raise _refused(artifact, NO_MODULES)
        if not policy.allows_module(module):
            raise _refused(
                artifact,
                f"artifact {artifact!r}: {module} is not among the modules this server loads "
                "models from (ABLAB_ARTIFACT_MODULES)",
            )
        check_attribute_path(policy, artifact, attribute)
    elif not policy.allows_mlflow:
        raise _refused(artifact, NO_MLFLOW)
    return ArtifactLocation(kind, artifact)


def check_attribute_path(policy: ArtifactPolicy, artifact: str, attribute: str) -> None:
    """Refuse private attributes (``_x``, ``__globals__``) on a server: through them an
    allowed module leads anywhere.

    Raises:
        ValidationError: a part of ``attribute`` starts with ``_`` and the policy is not open.
    """
    if not policy.anywhere and any(part.startswith("_") for part in attribute.split(".")):
        raise _refused(
            artifact, f"artifact {artifact!r}: attributes starting with '_' are not loaded"
        )


def _checked_file(policy: ArtifactPolicy, artifact: str) -> Path:
    if not policy.anywhere and not policy.folders:
        raise _refused(artifact, NO_FILES)
    try:
        resolved: Path | None = Path(artifact).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # a NUL byte, a link loop, no home folder
        resolved = None
    if not policy.anywhere and (resolved is None or not policy.allows_file(resolved)):
        # The same words for a file that exists and one that does not.
        raise _refused(
            artifact,
            f"artifact {artifact!r} is not in a folder this server loads models from "
            "(ABLAB_ARTIFACT_FOLDERS)",
        )
    if resolved is None or not _is_file(resolved):
        raise _refused(artifact, f"artifact file not found: {artifact}")
    return resolved


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder on the way that this process may not read
        return False


def _refused(artifact: str, message: str) -> ValidationError:
    return ValidationError(message, details={"field": "artifact", "artifact": artifact})
