"""The base of every wire schema: strict about unknown fields, snake_case, no surprises."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from ablab.errors import ValidationError

__all__ = ["Schema", "parse"]


class Schema(pydantic.BaseModel):
    # ``model_id`` is part of the public contract (seed 000's body), so pydantic's reserved
    # ``model_`` prefix must not apply here. ``from_attributes`` lets a public schema be read
    # straight off the domain object whose field names it shares.
    model_config = pydantic.ConfigDict(
        extra="forbid", protected_namespaces=(), from_attributes=True
    )


SchemaT = TypeVar("SchemaT", bound=Schema)


def parse(schema: type[SchemaT], data: Any) -> SchemaT:
    """Validate ``data`` into ``schema``, raising ablab's ValidationError on bad input.

    The message names the first offending field in one line; ``details`` lists them all.
    """
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ValidationError(
            f"invalid {where}: {first['msg']}",
            details={"errors": [{**e, "loc": list(e["loc"])} for e in errors]},
        ) from None
