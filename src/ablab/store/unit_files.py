"""Reading unit-level files (CSV, Parquet, JSON Lines) with DuckDB, down to sufficient sums.

Only the per-variant sums leave DuckDB, so a file of tens of millions of rows is read in one
pass at the engine's speed and never loaded into Python.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ablab.errors import ValidationError
from ablab.services.ports import UnitTable
from ablab.stats import CovariateMoments

__all__ = ["DuckDBUnitTableReader"]

_READERS = {
    ".csv": "read_csv_auto",
    ".tsv": "read_csv_auto",
    ".txt": "read_csv_auto",
    ".parquet": "read_parquet",
    ".pq": "read_parquet",
    ".jsonl": "read_json_auto",
    ".ndjson": "read_json_auto",
    ".json": "read_json_auto",
}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class DuckDBUnitTableReader:
    """``UnitTableReader`` on an in-memory DuckDB connection, one per read."""

    def read(
        self, path: Path, *, unit: str, variant: str, metric: str, covariate: str | None
    ) -> UnitTable:
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            raise ValidationError(
                f"cannot read {path.name!r}: use a .csv, .parquet or .jsonl file",
                details={"path": str(path)},
            )
        if not path.is_file():
            raise ValidationError(f"file not found: {path}", details={"path": str(path)})
        with duckdb.connect() as connection:
            source = f"{reader}(?)"
            try:
                columns = [
                    row[0]
                    for row in connection.execute(
                        f"DESCRIBE SELECT * FROM {source}", [str(path)]
                    ).fetchall()
                ]
            except duckdb.Error as exc:
                raise ValidationError(
                    f"cannot read {path.name!r}: {str(exc).splitlines()[0]}"
                ) from None
            wanted = {"--unit": unit, "--variant": variant, "--metric": metric}
            if covariate is not None:
                wanted["--covariate"] = covariate
            for option, column in wanted.items():
                if column not in columns:
                    raise ValidationError(
                        f"{option} {column!r} is not a column of {path.name!r} "
                        f"(columns: {', '.join(columns)})",
                        details={"column": column, "columns": columns},
                    )
            self._check_numeric(connection, source, path, metric, "--metric")
            if covariate is not None:
                self._check_numeric(connection, source, path, covariate, "--covariate")
            return self._aggregate(
                connection,
                source,
                path,
                unit=unit,
                variant=variant,
                metric=metric,
                covariate=covariate,
            )

    @staticmethod
    def _check_numeric(
        connection: duckdb.DuckDBPyConnection, source: str, path: Path, column: str, option: str
    ) -> None:
        bad = connection.execute(
            f"SELECT count(*), any_value({_quote(column)}::VARCHAR) FROM {source} "
            f"WHERE {_quote(column)} IS NOT NULL AND TRY_CAST({_quote(column)} AS DOUBLE) IS NULL",
            [str(path)],
        ).fetchone()
        assert bad is not None
        if bad[0]:
            raise ValidationError(
                f"{option} {column!r} has {bad[0]} value(s) that are not numbers, e.g. {bad[1]!r}",
                details={"column": column, "non_numeric": bad[0]},
            )

    @staticmethod
    def _aggregate(
        connection: duckdb.DuckDBPyConnection,
        source: str,
        path: Path,
        *,
        unit: str,
        variant: str,
        metric: str,
        covariate: str | None,
    ) -> UnitTable:
        x = f"CAST({_quote(covariate)} AS DOUBLE)" if covariate else "0.0"
        query = f"""
            WITH rows AS (
                SELECT CAST({_quote(unit)} AS VARCHAR) AS unit,
                       CAST({_quote(variant)} AS VARCHAR) AS variant,
                       CAST({_quote(metric)} AS DOUBLE) AS y,
                       {x} AS x
                FROM {source}
                WHERE {_quote(unit)} IS NOT NULL AND {_quote(variant)} IS NOT NULL
                  AND {_quote(metric)} IS NOT NULL
            ),
            units AS (
                SELECT unit, min(variant) AS variant, count(DISTINCT variant) AS variants,
                       avg(y) AS y, avg(x) AS x, count(*) AS rows
                FROM rows GROUP BY unit
            )
            SELECT variant, variants > 1 AS mixed, count(*) AS n, sum(rows) AS rows,
                   sum(y), sum(y * y), sum(x), sum(x * x), sum(x * y),
                   bool_and(y = 0 OR y = 1) AS binary
            FROM units GROUP BY ALL ORDER BY variant
        """
        table: dict[str, CovariateMoments] = {}
        rows = units = excluded = 0
        binary = True
        for name, mixed, n, n_rows, y, yy, xs, xx, xy, is_binary in connection.execute(
            query, [str(path)]
        ).fetchall():
            rows += int(n_rows)
            units += int(n)
            if mixed:
                excluded += int(n)
                continue
            binary = binary and bool(is_binary)
            table[name] = table.get(name, CovariateMoments.empty()) + CovariateMoments(
                int(n), float(y), float(yy), float(xs), float(xx), float(xy)
            )
        return UnitTable(
            rows=rows, units=units, excluded_units=excluded, binary=binary, variants=table
        )
