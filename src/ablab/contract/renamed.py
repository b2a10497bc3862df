"""Request fields that were renamed: the new name and the old one, never both at once.

One vocabulary across doors (issue 18): where one door spelled a field differently from
the others (``bandit_enabled`` beside ``bandit``, ``model`` beside ``model_id``), the
schema now takes the common name and keeps the old spelling as an alias, so callers
written against the old name go on working. A body that gives both spellings is refused
rather than one of them silently winning: the two could disagree, and the caller would
not learn which one was taken.
"""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import AliasChoices, Field
from pydantic_core import PydanticCustomError

__all__ = ["one_spelling", "renamed"]


def renamed(name: str, old: str, **field: Any) -> Any:
    """A field called ``name`` that also accepts its old name ``old`` in a request.

    ``field`` takes :func:`pydantic.Field`'s other arguments (``default``, ``description``).
    Pair it with :func:`one_spelling` in a ``mode="before"`` model validator.
    """
    return Field(validation_alias=AliasChoices(name, old), **field)


def one_spelling(schema: type[pydantic.BaseModel], data: Any) -> Any:
    """``data`` as given, unless it spells a renamed field of ``schema`` both ways.

    Without this check pydantic takes the new name and calls the old one an unknown
    field (``extra="forbid"``), a message that does not say what to do.

    Raises:
        PydanticCustomError: both the new and the old name are in ``data``.
    """
    if not isinstance(data, dict):
        return data
    for name, info in schema.model_fields.items():
        alias = info.validation_alias
        if not isinstance(alias, AliasChoices):
            continue
        spellings = [c for c in alias.choices if isinstance(c, str) and c in data]
        if len(spellings) > 1:
            old = ", ".join(s for s in spellings if s != name)
            raise PydanticCustomError(
                "renamed_field",
                "give {name} or its old name {old}, not both",
                {"name": name, "old": old},
            )
    return data
