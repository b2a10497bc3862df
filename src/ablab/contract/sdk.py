"""Wire schema of ``GET /v1/sdk/config``: the ruleset SDKs assign from locally.

Its experiments are :class:`ablab.assignment.rules.ExperimentRules` themselves, the type
the server assigns by, so the contract and the rules cannot drift apart.
"""

from __future__ import annotations

from ablab.assignment import ExperimentRules
from ablab.contract.base import Schema

__all__ = ["SdkConfig"]


class SdkConfig(Schema):
    """``version`` is the ruleset's ETag (send it back in ``If-None-Match``)."""

    project_id: str
    version: str
    experiments: list[ExperimentRules]
