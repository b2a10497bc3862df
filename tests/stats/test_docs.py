"""The examples in docs/statistics.md run and say what they claim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "statistics.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOCUMENT.read_text(), flags=re.DOTALL)


def test_the_document_has_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(
    "source", EXAMPLES, ids=[f"example-{index}" for index in range(len(EXAMPLES))]
)
def test_example_runs(source: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(source, str(DOCUMENT), "exec"), {})
    capsys.readouterr()
