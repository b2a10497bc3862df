"""Keyword options that are sent only when given: :data:`UNSET` and :func:`given`.

The SDK's methods spell out a schema's fields as typed keyword parameters (the schema's
own ``Annotated`` types, so type checkers and IDEs see the limits); an option left at
``UNSET`` is not sent, so the server's (the schema's) default applies.
``tests/client/test_typed_options.py`` keeps each signature and its schema in step.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["UNSET", "UnsetType", "given"]


class UnsetType:
    """The type of :data:`UNSET`, the default of an option that is not sent.

    ``None`` cannot mark "not given": it is a value some fields take (``mde=None``), and an
    option given as ``None`` is sent as ``null``. Like httpx's ``USE_CLIENT_DEFAULT``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = UnsetType()
"""An option left out of the request body, so the server's (the schema's) default applies."""


def given(arguments: dict[str, Any], *, leave: tuple[str, ...] = ()) -> dict[str, Any]:
    """A method's arguments (its ``locals()`` on entry) less ``self``, ``leave`` and those
    left ``UNSET``.

    Reading ``locals()`` spares writing each field's name a third time (schema, signature,
    body): a field added to both cannot be forgotten here.
    """
    skipped = {"self", *leave}
    return {k: v for k, v in arguments.items() if k not in skipped and v is not UNSET}
