"""The Client a command works with, built once from the global options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ablab.client import Client

__all__ = ["ClientOptions", "client_of"]


@dataclass
class ClientOptions:
    url: str | None = None
    api_key: str | None = None
    home: Path | None = None
    project: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            from ablab.client import Client  # noqa: PLC0415 - the client (SQLAlchemy or httpx) loads when a command needs it (CLI start-up)

            self._client = Client(
                base_url=self.url, api_key=self.api_key, home=self.home, project=self.project
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def client_of(ctx: typer.Context) -> Client:
    """The Client of this invocation (the root callback put the options in ``ctx.obj``)."""
    options = ctx.find_root().obj
    assert isinstance(options, ClientOptions)
    return options.client()
