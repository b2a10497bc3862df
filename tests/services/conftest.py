from __future__ import annotations

import pytest

from ablab.contract.catalogue import ModelVersionCreate
from ablab.services.context import Context
from ablab.services.experiments.catalogue import register_model_version


@pytest.fixture
def model(ctx: Context) -> str:
    """``radiology-v1`` with versions 1.0.0, 2.0.0 and 3.0.0 registered."""
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        register_model_version(
            ctx,
            ModelVersionCreate(
                model="radiology-v1", version=version, endpoint=f"http://127.0.0.1:9/{version}"
            ),
        )
    return "radiology-v1"
