"""How commands print: Rich tables for people, ``--output json`` for programs."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console

__all__ = ["OutputFormat", "OutputOption", "console", "print_json", "stderr"]

console = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "--output", "-o", help="table for people, json for programs.", case_sensitive=False
    ),
]


def print_json(data: BaseModel | list[BaseModel] | dict[str, Any] | list[Any]) -> None:
    """Print ``data`` as indented JSON on stdout (plain print: no Rich markup or wrapping)."""
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    elif isinstance(data, list):
        payload = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    else:
        payload = data
    print(json.dumps(payload, indent=2, sort_keys=False))
