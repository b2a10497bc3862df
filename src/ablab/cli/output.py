"""How commands print: Rich tables for people, ``--output json`` for programs.

Every command prints through :func:`emit`, the one place that chooses between JSON, an
empty-state hint and the command's own rendering. Tables come from :func:`new_table` and
never lose a character at any width. Cells wrap between words and never inside one, so a
name (names have no spaces) stays whole on one line; a table that cannot be drawn so within
the width (``COLUMNS``, or 80 when stdout is a pipe) is printed as one record per row: the
row's first cell, then ``Header: value`` lines, each printed whole (a terminal wraps them).
Rich's own tables narrow columns regardless of words, and cut names with an ellipsis
("my-experi…") or fold them over two lines, which a reader misreads and grep misses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar, runtime_checkable

import typer
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

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
# cropped; tables still lay themselves out within the console's width.
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


@dataclass(frozen=True, slots=True)
class TableColumn:
    """A column of :func:`new_table`.

    Attributes:
        header: the column's heading.
        justify: ``right`` for numbers.
        whole: never wrap this column's cells, even between words: an interval such as
            ``[-1.2%, +3.4%]`` or a value with its count reads wrong over two lines.
    """

    header: str
    justify: Literal["left", "right"] = "left"
    whole: bool = False


# What Table(show_edge=False, pad_edge=False) draws between two columns: a space, the rule,
# a space. The fit test adds it to the columns' widths (tests/cli/test_output.py checks the
# sum against what Rich draws at every width).
_BETWEEN_COLUMNS = 3

# Records align their values when the longest header is at most this wide; a longer header
# (a variant's label in the results) is followed by one space rather than pushing every
# value of the record far right.
_ALIGNED_HEADER = 20


class FittingTable:
    """Rows drawn as a table when no word has to be split to fit, else as one record per row.

    Built by :func:`new_table`; cells are strings with Rich markup, as ``Table.add_row``
    takes them. Cells wrap between words and never inside one, so a name (names have no
    spaces) is always on one line. The layout is chosen when printed, from the width it is
    printed in: a pipe (80 columns), ``COLUMNS=40`` and a wide terminal each get the one
    that keeps every character.

    The column widths are computed here rather than by Rich, whose tables narrow the widest
    column regardless of its words and then cut with an ellipsis or fold inside a word.
    """

    def __init__(
        self, columns: Sequence[TableColumn], title: str | None, caption: str | None
    ) -> None:
        self.columns = tuple(columns)
        self.title = title
        self.caption = caption
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.title:
            yield Text(self.title, style="table.title")
        widths = self.widths(options.max_width)
        if widths is None:
            yield from self._records()
        else:
            yield self._table(widths)
        if self.caption:
            yield Text(self.caption, style="table.caption")

    def widths(self, max_width: int) -> list[int] | None:
        """Each column's width in a table at most ``max_width`` wide, or None if none fits.

        Columns start at their widest line; while the table is too wide, the widest column
        that can still narrow loses one cell, never going below its longest word (its widest
        line if ``whole``). None when even those least widths do not fit.
        """
        texts = [[c.header, *(row[i] for row in self.rows)] for i, c in enumerate(self.columns)]
        widths = [max(1, *map(_width, column)) for column in texts]
        least = [
            width if column.whole else max(1, *map(_longest_word, cells))
            for width, column, cells in zip(widths, self.columns, texts, strict=True)
        ]
        room = max_width - _BETWEEN_COLUMNS * (len(self.columns) - 1)
        if sum(least) > room:
            return None
        while sum(widths) > room:
            narrowing = max(
                (i for i, width in enumerate(widths) if width > least[i]),
                key=widths.__getitem__,
            )
            widths[narrowing] -= 1
        return widths

    def _table(self, widths: list[int]) -> Table:
        table = Table(show_edge=False, pad_edge=False)
        for column, width in zip(self.columns, widths, strict=True):
            # Every word fits its column, so "fold" is never used; it only rules out Rich's
            # default, the ellipsis.
            table.add_column(
                column.header,
                justify=column.justify,
                width=width,
                no_wrap=column.whole,
                overflow="fold",
            )
        for row in self.rows:
            table.add_row(*row)
        return table

    def _records(self) -> Iterable[Text]:
        """Each row as its first cell, then the other columns as ``Header: value`` lines."""
        headers = [f"{c.header}:" for c in self.columns[1:]]
        for row in self.rows:
            heading = Text.from_markup(row[0])
            heading.stylize("bold")
            yield heading
            yield key_values(zip(headers, row[1:], strict=True), indent=2, gap=1)


def new_table(
    *columns: str | TableColumn, title: str | None = None, caption: str | None = None
) -> FittingTable:
    """A table that never cuts a word: see :class:`FittingTable`.

    Args:
        columns: headers (left-aligned columns) or :class:`TableColumn`.
        title: a line printed above the rows.
        caption: a line printed below them.

    Examples:
        >>> table = new_table("Experiment", TableColumn("Units", justify="right"), "Created")
        >>> table.add_row("checkout-button-colour-test", "1200", "2025-06-01 09:30")
        >>> Console(width=60).print(table)
        Experiment                  ┃ Units ┃ Created
        ━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━━━
        checkout-button-colour-test │  1200 │ 2025-06-01 09:30
        >>> Console(width=48).print(table)
        Experiment                  ┃ Units ┃ Created
        ━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━
        checkout-button-colour-test │  1200 │ 2025-06-01
                                    │       │ 09:30
        >>> Console(width=47).print(table)
        checkout-button-colour-test
          Units:   1200
          Created: 2025-06-01 09:30
    """
    return FittingTable(
        [c if isinstance(c, TableColumn) else TableColumn(c) for c in columns], title, caption
    )


def key_values(
    pairs: Iterable[tuple[str, str]], *, indent: int = 0, gap: int = 2, key_style: str = "dim"
) -> Text:
    """``key value`` lines, the values aligned, each line whole (Rich markup in the values).

    Examples:
        >>> lines = key_values([("Model", "radiology-classifier-v1"), ("MDE", "+5%")])
        >>> Console(width=20, soft_wrap=True).print(lines)
        Model  radiology-classifier-v1
        MDE    +5%
    """
    pairs = list(pairs)
    longest = max((_width(key) for key, _ in pairs), default=0)
    aligned = longest if longest <= _ALIGNED_HEADER else 0
    lines = []
    for key, value in pairs:
        line = Text(" " * indent)
        line.append(key, style=key_style)
        line.append(" " * (max(aligned - _width(key), 0) + gap))
        line.append_text(Text.from_markup(value))
        lines.append(line)
    return Text("\n").join(lines)


def _width(markup: str) -> int:
    """The cells the widest line of ``markup`` takes on screen."""
    return max((Text.from_markup(line).cell_len for line in markup.splitlines()), default=0)


def _longest_word(markup: str) -> int:
    """The cells the longest word of ``markup`` takes: the least width that splits none."""
    return max(map(cell_len, Text.from_markup(markup).plain.split()), default=0)
