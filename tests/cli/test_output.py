"""``emit`` and ``new_table``: one JSON-or-people branch, and tables that never cut a word."""

from __future__ import annotations

import io
import json

import pytest
from rich.cells import cell_len
from rich.console import Console

from ablab.cli.output import OutputFormat, TableColumn, emit, key_values, new_table
from ablab.contract.keys import KeyPublic

NAMES = [
    "checkout-ranking-model-with-a-name-of-exactly-sixty-chars-01",
    "checkout-ranking-model-with-a-name-of-exactly-sixty-chars-02",
]
CREATED = "2025-06-01 09:30"
# The least width of each column: its longest word, header included ("Created" is 7 long,
# the date's longest word 10), plus " │ " between two columns.
LEAST = 60 + len("running") + len("2025-06-01") + 2 * 3
# Every cell on one line.
NATURAL = 60 + len("running") + len(CREATED) + 2 * 3


def _printed(renderable: object, width: int) -> str:
    """What the CLI's console (soft wrap, no colour) prints at ``width`` columns."""
    out = io.StringIO()
    Console(file=out, width=width, soft_wrap=True, highlight=False, color_system=None).print(
        renderable
    )
    return out.getvalue()


def _table() -> object:
    table = new_table("Name", "Status", "Created")
    for name in NAMES:
        table.add_row(name, "[green]running[/]", CREATED)
    return table


def test_sixty_character_names() -> None:
    assert {len(name) for name in NAMES} == {60}


@pytest.mark.parametrize("width", range(20, 121))
def test_a_table_is_drawn_exactly_when_no_word_must_be_split(width: int) -> None:
    printed = _printed(_table(), width)
    drawn = "┃" in printed
    assert drawn == (width >= LEAST)
    lines = printed.splitlines()
    for name in NAMES:
        # Whole on one line: not cut, not folded.
        assert sum(name in line for line in lines) == 1
    assert "…" not in printed
    if drawn:
        assert max(cell_len(line.rstrip()) for line in lines) <= width
        if width >= NATURAL:
            assert len(lines) == 4
            assert sum(CREATED in line for line in lines) == 2
        else:  # the date wraps between its two words, never inside one
            assert len(lines) == 6
            assert [line.split("│")[-1].strip() for line in lines[2:]] == [
                "2025-06-01",
                "09:30",
            ] * 2
    else:
        assert [line for line in lines if not line.startswith(" ")] == NAMES
        assert lines.count(f"  Created: {CREATED}") == 2


def test_records_show_the_text_of_markup_and_each_header() -> None:
    printed = _printed(_table(), 40)
    assert printed.splitlines()[:3] == [NAMES[0], "  Status:  running", f"  Created: {CREATED}"]


def test_a_whole_column_never_wraps_and_a_table_that_would_need_it_becomes_records() -> None:
    table = new_table("Variant", TableColumn("95% CI", whole=True))
    table.add_row("treatment", "[-12.5%, +47.4%]")
    natural = len("treatment") + 3 + len("[-12.5%, +47.4%]")
    assert "│ [-12.5%, +47.4%]" in _printed(table, natural)
    narrower = _printed(table, natural - 1)
    assert "┃" not in narrower
    assert "  95% CI: [-12.5%, +47.4%]" in narrower.splitlines()


def test_title_and_caption_are_whole_lines_at_any_width() -> None:
    title = f"{NAMES[0]}: accuracy by hour, cumulative"
    table = new_table("Until", title=title, caption="lift [always-valid confidence sequence]")
    table.add_row("06-01 09:00")
    for width in (30, 80):
        lines = _printed(table, width).splitlines()
        assert lines[0] == title
        assert lines[-1] == "lift [always-valid confidence sequence]"


def test_a_row_must_fill_every_column() -> None:
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        new_table("a", "b", "c").add_row("x", "y")


def test_key_values_align_short_keys_and_leave_long_ones_unpadded() -> None:
    short = _printed(key_values([("Model", "m"), ("Max duration", "30 days")]), 20)
    assert short.splitlines() == ["Model         m", "Max duration  30 days"]
    long_key = "Treatment (2025.03.02-efficientnet-b4)"
    long = _printed(key_values([("Units", "1"), (long_key, "2")], gap=1), 20)
    assert long.splitlines() == ["Units 1", f"{long_key} 2"]


def _key() -> KeyPublic:
    return KeyPublic.model_validate(
        {
            "id": "key_0123456789ab",
            "prefix": "abk_0123",
            "name": "serving-fleet",
            "scopes": ["sdk"],
            "created_at": "2025-06-01T09:30:00Z",
            "created_by": "local:cli",
            "last_used_at": None,
            "revoked_at": None,
        }
    )


def test_emit_prints_json_for_programs_without_rendering(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rendered: list[object] = []
    emit(OutputFormat.JSON, [_key()], rendered.append, empty="No keys yet.")
    assert json.loads(capsys.readouterr().out)[0]["name"] == "serving-fleet"
    emit(OutputFormat.JSON, [], rendered.append, empty="No keys yet.")
    assert json.loads(capsys.readouterr().out) == []
    assert rendered == []


def test_emit_for_people_renders_or_says_what_to_do_when_empty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rendered: list[object] = []
    emit(OutputFormat.TABLE, [], rendered.append, empty="No keys yet. Create one.")
    assert capsys.readouterr().out == "No keys yet. Create one.\n"
    keys = [_key()]
    emit(OutputFormat.TABLE, keys, rendered.append, empty="No keys yet.")
    assert rendered == [keys]
    emit(OutputFormat.TABLE, _key(), "Revoked abk_0123 (serving-fleet)")
    assert capsys.readouterr().out == "Revoked abk_0123 (serving-fleet)\n"
