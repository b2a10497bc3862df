"""Typed values read from a form or a flag: JSON when it is JSON, the text otherwise, and a
one-line refusal (never a crash) for brackets nested past what the parser follows."""

from __future__ import annotations

import pytest

from ablab.errors import ValidationError
from ablab.llm.typed import text_or_json, typed_value


def test_deep_nesting_is_refused_in_one_line() -> None:
    nested = "[" * 9_000 + "]" * 9_000
    for read in (typed_value, text_or_json):
        with pytest.raises(ValidationError, match="nests too deeply"):
            read(nested)


def test_json_and_text_read_as_before() -> None:
    assert typed_value("[[1]]") == [[1]]
    assert typed_value("gpt-4o") == "gpt-4o"
