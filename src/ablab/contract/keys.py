"""Wire schemas of API keys. The secret appears once, in ``KeyCreated``."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import Label
from ablab.domain.keys import ApiKey, Scope

__all__ = ["KeyCreate", "KeyCreated", "KeyPublic"]


class KeyCreate(RequestSchema):
    name: Label
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))


class KeyPublic(Schema):
    id: str
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_domain(cls, key: ApiKey) -> KeyPublic:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            scopes=sorted(key.scopes),
            created_at=key.created_at,
            created_by=key.created_by,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyPublic):
    key: str = Field(description="the whole key; shown this once, stored only as a hash")
