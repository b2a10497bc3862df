"""Storing first assignments: one statement for a whole group, first writer wins.

A unit already stored keeps its variant (``ON CONFLICT DO NOTHING``), so every process
converges on the variant stored first. The group goes in as one parameter (a JSON object on
SQLite, two arrays on PostgreSQL) and one statement, not an ``executemany``: the server's
writer thread shares the interpreter with the event loop, and pysqlite lets go of the GIL
around every row it steps, so a row-by-row insert of 30 units waited for the GIL 30 times
(measured under ``bench/server.py``'s new-unit load: a 31-unit group took about 10 ms
instead of 2.8 ms on an idle interpreter). On PostgreSQL the rows are inserted in unit
order, so two servers inserting overlapping groups take their row locks in the same order
and never deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import orjson
from sqlalchemy import Connection, bindparam, text

from ablab.store.metadata.tables import AssignmentRow

__all__ = ["insert_first_assignments"]

_AT = bindparam("at", type_=AssignmentRow.__table__.c.assigned_at.type)

# SQLite needs the WHERE to tell the upsert's ON from a join's (its documented ambiguity).
_SQLITE = text(
    "INSERT INTO assignments (experiment_id, unit_id, variant, assigned_at) "
    "SELECT :experiment_id, unit.key, unit.value, :at FROM json_each(:units) AS unit "
    "WHERE true ON CONFLICT (experiment_id, unit_id) DO NOTHING"
).bindparams(_AT)

_POSTGRES = text(
    "INSERT INTO assignments (experiment_id, unit_id, variant, assigned_at) "
    "SELECT :experiment_id, unit.unit_id, unit.variant, :at "
    "FROM unnest(CAST(:units AS text[]), CAST(:variants AS text[])) AS unit(unit_id, variant) "
    "ORDER BY unit.unit_id ON CONFLICT (experiment_id, unit_id) DO NOTHING"
).bindparams(_AT)


def insert_first_assignments(
    connection: Connection, experiment_id: str, variants: Mapping[str, str], at: datetime
) -> int:
    """Store each unit's variant unless it has one; returns how many were new."""
    if connection.dialect.name == "postgresql":
        units = sorted(variants)
        parameters = {"units": units, "variants": [variants[u] for u in units]}
        result = connection.execute(
            _POSTGRES, {"experiment_id": experiment_id, "at": at, **parameters}
        )
    else:
        payload = orjson.dumps(dict(variants)).decode()
        result = connection.execute(
            _SQLITE, {"experiment_id": experiment_id, "at": at, "units": payload}
        )
    return int(result.rowcount)
