"""Values people type (on the command line, in the console's forms) read as the API's JSON.

One reading for every door: ``0.3`` is a number and ``gpt-4o`` the text itself; a task's
expected output ``4`` is the text an application answers with, not the number; a setting is
``step.parameter=value``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ablab.errors import ValidationError

__all__ = ["settings_from_pairs", "text_or_json", "typed_value"]


def typed_value(text: str) -> Any:
    """A JSON value, or the text itself when it is not JSON (``gpt-4o``, ``low``).

    Examples:
        >>> typed_value("0.3"), typed_value("gpt-4o"), typed_value("true")
        (0.3, 'gpt-4o', True)
    """
    try:
        return json.loads(text)
    except ValueError:
        return text
    except RecursionError:  # brackets nested past what the parser follows
        raise ValidationError("a value nests too deeply to be read") from None


def text_or_json(text: str) -> Any:
    """An object, array or quoted string as JSON; anything else as the text itself, so that
    an expected ``4`` expects the text ``4`` an application answers with.

    Examples:
        >>> text_or_json("4"), text_or_json('{"n": 4}')
        ('4', {'n': 4})
    """
    return typed_value(text) if text.strip()[:1] in ("{", "[", '"') else text


def settings_from_pairs(pairs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``step.parameter=value`` pairs as ``{step: {parameter: value}}``.

    Raises:
        ValidationError: a pair is not ``step.parameter=value``.

    Examples:
        >>> settings_from_pairs(["writer.temperature=0.2", "writer.model=gpt-4o"])
        {'writer': {'temperature': 0.2, 'model': 'gpt-4o'}}
    """
    config: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        step, dot, parameter = key.strip().rpartition(".")
        if not sep or not dot or not step or not parameter:
            raise ValidationError(
                f"{pair!r}: write step.parameter=value, e.g. answerer.temperature=0.2"
            )
        config.setdefault(step, {})[parameter] = typed_value(value.strip())
    return config
