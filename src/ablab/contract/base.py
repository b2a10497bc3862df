"""The base of every wire schema: strict about unknown fields, snake_case, no surprises."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, TypeVar

import pydantic

from ablab.errors import ValidationError

__all__ = ["RequestSchema", "Schema", "invalid", "parse"]


class Schema(pydantic.BaseModel):
    # ``model_id`` is part of the public contract (seed 000's body), so pydantic's reserved
    # ``model_`` prefix must not apply here. ``from_attributes`` lets a public schema be read
    # straight off the domain object whose field names it shares.
    model_config = pydantic.ConfigDict(
        extra="forbid", protected_namespaces=(), from_attributes=True
    )


class RequestSchema(Schema):
    """A request body. Its fields use the strict, bounded types of ``contract.fields``.

    However it is built, by :func:`parse`, by ``model_validate`` or by calling the class
    (``ExperimentCreate(name=...)``, as the console does), bad input raises ablab's
    :class:`~ablab.errors.ValidationError` naming the field, never pydantic's own error.
    FastAPI validates bodies without calling ``__init__`` and keeps its 422.
    """

    def __init__(self, **data: Any) -> None:
        if _building.get():
            # A nested schema: pydantic files its errors under the outer field (variants.0.x).
            super().__init__(**data)
            return
        token = _building.set(True)
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise invalid(exc) from None
        finally:
            _building.reset(token)


_building: ContextVar[bool] = ContextVar("ablab_request_schema_building", default=False)


SchemaT = TypeVar("SchemaT", bound=Schema)


def parse(schema: type[SchemaT], data: Any) -> SchemaT:
    """Validate ``data`` into ``schema``, raising ablab's ValidationError on bad input.

    The message names the first offending field in one line; ``details`` lists them all.
    """
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise invalid(exc) from None


def invalid(exc: pydantic.ValidationError) -> ValidationError:
    """ablab's ValidationError for pydantic's: one line naming the first field, all in details.

    The input is left out of the details (it may be NaN, a megabyte, or not JSON at all).
    """
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return ValidationError(
        f"invalid {where}: {first['msg']}",
        details={"errors": [{**e, "loc": list(e["loc"])} for e in errors]},
    )
