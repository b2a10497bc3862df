"""Tables that keep every name whole, at any width and in a pipe.

A cell is never cut ("my-experi…") nor split inside a name. Cells wrap between words only,
and a name given to :func:`new_table` in ``names`` (a variant such as ``v2 (distilled)``,
whose spaces are part of it) counts as one word; every other name (experiment, model,
version, metric) has no spaces. A name therefore always sits whole on one line, where a
reader and ``grep`` find it. Rich's own tables narrow a column regardless of its words, then
cut with an ellipsis or fold inside a word.

The width a table must fit:

* a terminal: its width;
* ``COLUMNS`` set (an exported variable, terminal or not): that many columns;
* otherwise (stdout a pipe or a file, as in CI logs): no limit. Each row is one line, as
  ``ps``, ``docker ps`` and ``kubectl get`` print into a pipe, so ``ablab experiment list |
  grep running`` finds whole rows and a log keeps the table's shape. Rich would assume 80
  columns, a guess that turns wide tables into records in every CI log.

A table whose least width (each column as wide as its longest word, between-column rules
included) exceeds the width it must fit is printed as one record per row instead: the row's
first cell, then ``Header: value`` lines, each printed whole (a terminal wraps them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

__all__ = ["CommandConsole", "FittingTable", "TableColumn", "key_values", "new_table"]

# What Table(show_edge=False, pad_edge=False) draws between two columns: a space, the rule,
# a space. The fit test adds it to the columns' widths (tests/cli/test_output.py checks the
# sum against what Rich draws at every width).
_BETWEEN_COLUMNS = 3

# Records align their values when the longest header is at most this wide; a longer header
# (a variant's label in the results) is followed by one space rather than pushing every
# value of the record far right.
_ALIGNED_HEADER = 20

# Stands in for a space inside a name while words are found: not whitespace, one cell wide.
_JOINED = "\x00"


class CommandConsole(Console):
    """Rich's console for the commands' output, telling tables whether its width is real."""

    @property
    def width_is_known(self) -> bool:
        """True in a terminal or with ``COLUMNS`` set; False in a pipe, where Rich guesses 80.

        Examples:
            >>> import io
            >>> CommandConsole(file=io.StringIO(), width=60).width_is_known
            True
        """
        if self._width is not None or os.environ.get("COLUMNS", "").isdigit():
            return True
        isatty = getattr(self.file, "isatty", None)
        try:
            return bool(isatty is not None and isatty())
        except ValueError:  # a closed file, as at the end of a pytest run
            return False


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


class FittingTable:
    """Rows drawn as a table when no word has to be split to fit, else as one record per row.

    Built by :func:`new_table`; cells are strings with Rich markup, as ``Table.add_row``
    takes them. The layout is chosen when printed, from the width it is printed in (see the
    module's docstring): a wide terminal, ``COLUMNS=40`` and a pipe each get the one that
    keeps every name whole on one line.

    The column widths and the line breaks are computed here rather than by Rich, whose
    tables narrow the widest column regardless of its words and break at any space.
    """

    def __init__(
        self,
        columns: Sequence[TableColumn],
        title: str | None,
        caption: str | None,
        names: Iterable[str] = (),
    ) -> None:
        self.columns = tuple(columns)
        self.title = title
        self.caption = caption
        # Longest first, so that a name containing another is joined whole.
        self.names = sorted({n for n in names if " " in n}, key=len, reverse=True)
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.title:
            yield Text(self.title, style="table.title")
        unlimited = isinstance(console, CommandConsole) and not console.width_is_known
        widths = self.widths(None if unlimited else options.max_width)
        if widths is None:
            yield from self._records()
        else:
            drawn = sum(widths) + _BETWEEN_COLUMNS * (len(widths) - 1)
            # Rendered at the table's own width: without a limit it may be wider than the
            # console, whose soft wrap prints its lines whole.
            yield from console.render(self._table(widths), options.update_width(drawn))
        if self.caption:
            yield Text(self.caption, style="table.caption")

    def widths(self, max_width: int | None) -> list[int] | None:
        """Each column's width in a table at most ``max_width`` wide, or None if none fits.

        Columns start at their widest line; while the table is too wide, the widest column
        that can still narrow loses one cell, never going below its longest word (its widest
        line if ``whole``). None when even those least widths do not fit. Without a
        ``max_width`` every column keeps its widest line.
        """
        texts = [
            [Text.from_markup(c.header), *(Text.from_markup(row[i]) for row in self.rows)]
            for i, c in enumerate(self.columns)
        ]
        widths = [max(1, *map(_widest_line, column)) for column in texts]
        if max_width is None:
            return widths
        least = [
            width if column.whole else max(1, *(self._longest_word(t) for t in cells))
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
            # Cells come broken into lines that fit, so Rich must not wrap them again; "fold"
            # is never used, it only rules out Rich's default, the ellipsis.
            table.add_column(
                self._wrap(column.header, width, column.whole),
                justify=column.justify,
                width=width,
                no_wrap=True,
                overflow="fold",
            )
        for row in self.rows:
            table.add_row(
                *(
                    self._wrap(cell, width, column.whole)
                    for cell, width, column in zip(row, widths, self.columns, strict=True)
                )
            )
        return table

    def _records(self) -> Iterable[Text]:
        """Each row as its first cell, then the other columns as ``Header: value`` lines."""
        headers = [f"{c.header}:" for c in self.columns[1:]]
        for row in self.rows:
            heading = Text.from_markup(row[0])
            heading.stylize("bold")
            yield heading
            yield key_values(zip(headers, row[1:], strict=True), indent=2, gap=1)

    def _words(self, line: str) -> list[tuple[int, int]]:
        """The start and end of each word of ``line``; a name in ``names`` is one word."""
        for name in self.names:
            line = line.replace(name, name.replace(" ", _JOINED))
        return [match.span() for match in re.finditer(r"\S+", line)]

    def _longest_word(self, text: Text) -> int:
        """The cells the longest word of ``text`` takes: the least width that splits none."""
        return max(
            (
                cell_len(line[start:end])
                for line in text.plain.splitlines()
                for start, end in self._words(line)
            ),
            default=0,
        )

    def _wrap(self, markup: str, width: int, whole: bool) -> Text:
        """``markup`` broken between words into lines at most ``width`` cells wide (every
        word fits: ``width`` is at least the longest), its styles kept."""
        text = Text.from_markup(markup)
        if whole:
            return text
        lines: list[Text] = []
        for line in text.split("\n", allow_blank=True):
            plain = line.plain
            breaks: list[tuple[int, int]] = []
            for start, end in self._words(plain):
                if breaks and cell_len(plain[breaks[-1][0] : end]) <= width:
                    breaks[-1] = (breaks[-1][0], end)
                else:
                    breaks.append((start, end))
            lines.extend(line[start:end] for start, end in breaks or [(0, 0)])
        return Text("\n").join(lines)


def new_table(
    *columns: str | TableColumn,
    title: str | None = None,
    caption: str | None = None,
    names: Iterable[str] = (),
) -> FittingTable:
    """A table that never cuts a name: see :class:`FittingTable`.

    Args:
        columns: headers (left-aligned columns) or :class:`TableColumn`.
        title: a line printed above the rows.
        caption: a line printed below them.
        names: names with spaces in the cells or headers (variants), each kept on one line.

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
        >>> variants = new_table("Variant", "Role", names=["v2 (distilled)"])
        >>> variants.add_row("v2 (distilled)", "treatment")
        >>> Console(width=28).print(variants)
        Variant        ┃ Role
        ━━━━━━━━━━━━━━━╇━━━━━━━━━━
        v2 (distilled) │ treatment
    """
    return FittingTable(
        [c if isinstance(c, TableColumn) else TableColumn(c) for c in columns],
        title,
        caption,
        names,
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
    longest = max((_widest_line(Text.from_markup(key)) for key, _ in pairs), default=0)
    aligned = longest if longest <= _ALIGNED_HEADER else 0
    lines = []
    for key, value in pairs:
        line = Text(" " * indent)
        line.append(key, style=key_style)
        width = _widest_line(Text.from_markup(key))
        line.append(" " * (max(aligned - width, 0) + gap))
        line.append_text(Text.from_markup(value))
        lines.append(line)
    return Text("\n").join(lines)


def _widest_line(text: Text) -> int:
    """The cells the widest line of ``text`` takes on screen."""
    return max((cell_len(line) for line in text.plain.splitlines()), default=0)
