"""How commands print: Rich tables for people, ``--output json`` for programs.

Every command prints through :func:`emit`, the one place that chooses between JSON, an
empty-state hint and the command's own rendering. Tables come from :func:`new_table`
(:mod:`ablab.cli.tables`) and never lose a character of a name at any width: in a terminal
they fit its width, with ``COLUMNS`` set they fit that, and in a pipe (CI logs) they have no
limit, one row a line. ``--output json`` is never laid out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar, runtime_checkable

import typer

from ablab.cli.tables import CommandConsole, FittingTable, TableColumn, key_values, new_table

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "FittingTable",
    "OutputFormat",
    "OutputOption",
    "TableColumn",
    "console",
    "emit",
    "key_values",
    "new_table",
    "print_json",
    "stderr",
]

# soft_wrap: lines longer than the console are printed whole (a terminal wraps them), never
# cropped; tables choose their own width (ablab.cli.tables).
console = CommandConsole(highlight=False, soft_wrap=True)
stderr = CommandConsole(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "--output", "-o", help="table for people, json for programs.", case_sensitive=False
    ),
]

Printable = TypeVar("Printable", bound="BaseModel | list[Any] | dict[str, Any]")


@runtime_checkable
class _WireSchema(Protocol):
    """A pydantic model, recognised by its method so that this module, which ``ablab --help``
    imports, does not load pydantic (~0.07 s of a start-up whose goal is ~0.2 s)."""

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


def print_json(data: BaseModel | list[BaseModel] | dict[str, Any] | list[Any]) -> None:
    """Print ``data`` as indented JSON on stdout (plain print: no Rich markup or wrapping)."""
    if isinstance(data, _WireSchema):
        payload: Any = data.model_dump(mode="json")
    elif isinstance(data, list):
        payload = [d.model_dump(mode="json") if isinstance(d, _WireSchema) else d for d in data]
    else:
        payload = data
    print(json.dumps(payload, indent=2, sort_keys=False))


def emit(
    output: OutputFormat,
    data: Printable,
    render: Callable[[Printable], object] | str,
    *,
    empty: str | None = None,
) -> None:
    """Print a command's answer: ``data`` as JSON, or for people ``render``.

    Args:
        output: what the user asked for with ``--output``.
        data: the answer, as the JSON output shows it.
        render: prints ``data`` for people, or a line (Rich markup) to print instead.
        empty: printed instead of ``render`` when ``data`` is empty, saying how to fill it.

    Examples:
        >>> emit(OutputFormat.JSON, {"name": "trial"}, "Created trial")
        {
          "name": "trial"
        }
        >>> emit(OutputFormat.TABLE, [], print, empty="No experiments yet.")
        No experiments yet.
    """
    if output is OutputFormat.JSON:
        print_json(data)
    elif empty is not None and not data:
        console.print(empty)
    elif isinstance(render, str):
        console.print(render)
    else:
        render(data)
