"""The operator's :class:`~ablab.domain.trust.Trust`, read from the server's settings."""

from __future__ import annotations

import re
from pathlib import PurePath

from ablab.domain.trust import ArtifactPolicy, OutboundPolicy, Trust
from ablab.errors import ValidationError
from ablab.settings import Settings

__all__ = ["operator_trust"]

_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", re.ASCII)


def operator_trust(settings: Settings) -> Trust:
    """What a server started with ``settings`` may load and call.

    Artifact folders are resolved now (links included), so a file is judged by where it
    really is against where the folders really are.

    Raises:
        ValidationError: a module prefix that is not a dotted module name, or an outbound
            rule that is neither a network nor a host name.
    """
    for module in settings.artifact_modules:
        if not _MODULE.fullmatch(module):
            raise ValidationError(
                f"ABLAB_ARTIFACT_MODULES: {module!r} is not a module name (acme.models)",
                details={"setting": "ABLAB_ARTIFACT_MODULES", "entry": module},
            )
    tracking = settings.mlflow_tracking_uri
    registry = settings.mlflow_registry_uri
    artifacts = ArtifactPolicy(
        folders=tuple(PurePath(f.expanduser().resolve()) for f in settings.artifact_folders),
        modules=tuple(settings.artifact_modules),
        mlflow_tracking_uri=tracking.get_secret_value() if tracking else None,
        mlflow_registry_uri=registry.get_secret_value() if registry else None,
        skops_trusted_types=tuple(settings.skops_trusted_types),
    )
    outbound = OutboundPolicy.from_rules(settings.outbound_allow, settings.outbound_deny)
    return Trust(artifacts, outbound)
