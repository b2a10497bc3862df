"""How the LLM pages show an output: as text, shortened, and word by word against the
baseline's (``<del>`` what the baseline said and this one does not, ``<ins>`` the reverse).

Every piece of text is escaped here, before any markup is added; the diff is the only
markup the LLM templates pass through unescaped.
"""

from __future__ import annotations

import json
import re
from difflib import SequenceMatcher
from typing import Any

from markupsafe import Markup, escape

__all__ = ["DIFF_LIMIT", "output_text", "shortened", "word_diff"]

# Past this many characters a side is compared as its first DIFF_LIMIT characters: the
# matcher's time grows with the square of the words in the worst case.
DIFF_LIMIT = 20_000

# Words, runs of space, and each other character: the pieces a diff inserts or deletes,
# with the spacing kept so that the diff reads as the text does.
_PIECES = re.compile(r"\s+|\w+|[^\w\s]")


def output_text(output: Any) -> str:
    """An output as people read it: a string as it is, anything else as indented JSON.

    Examples:
        >>> output_text("4"), output_text(None)
        ('4', '')
        >>> print(output_text({"answer": 4}))
        {
          "answer": 4
        }
    """
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    return json.dumps(output, indent=2, ensure_ascii=False, sort_keys=True)


def shortened(text: str, limit: int = 120) -> tuple[str, bool]:
    """The first ``limit`` characters of ``text`` on one line, and whether the whole text
    shows more than that (it was cut, or its lines were joined).

    Examples:
        >>> shortened("a b")
        ('a b', False)
        >>> shortened("a\\nb")
        ('a b', True)
        >>> shortened("abcdef", 3)
        ('abc…', True)
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat, flat != text
    return flat[:limit] + "…", True


def word_diff(old: str, new: str) -> Markup:
    """``new`` marked word by word against ``old``: ``<del>`` for what only ``old`` has,
    ``<ins>`` for what only ``new`` has, everything escaped.

    Examples:
        >>> print(word_diff("the cat sat", "the dog sat"))
        the <del>cat</del><ins>dog</ins> sat
        >>> print(word_diff("<b>", "<i>"))
        &lt;<del>b</del><ins>i</ins>&gt;
    """
    before = _PIECES.findall(old[:DIFF_LIMIT])
    after = _PIECES.findall(new[:DIFF_LIMIT])
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(str(escape("".join(after[j1:j2]))))
            continue
        if i2 > i1:
            parts.append(f"<del>{escape(''.join(before[i1:i2]))}</del>")
        if j2 > j1:
            parts.append(f"<ins>{escape(''.join(after[j1:j2]))}</ins>")
    # Every piece was escaped above, before its tags were added.
    return Markup("".join(parts))
