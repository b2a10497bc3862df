"""Settings for the commands that work on the store itself, where the server runs."""

from __future__ import annotations

from typing import Any

import typer

from ablab.cli.state import ClientOptions
from ablab.errors import ValidationError
from ablab.settings import Settings

__all__ = ["store_settings"]


def store_settings(ctx: typer.Context, *, elsewhere: str) -> Settings:
    """``ABLAB_*`` settings with the global ``--home`` and ``--project`` on top.

    Raises:
        ValidationError: ``--url`` names a server; ``elsewhere`` says where to run instead.
    """
    options = ctx.find_root().obj
    assert isinstance(options, ClientOptions)
    if options.url is not None:
        raise ValidationError(elsewhere)
    overrides: dict[str, Any] = {}
    if options.home is not None:
        overrides["home"] = options.home
    if options.project is not None:
        overrides["project"] = options.project
    return Settings(**overrides)
