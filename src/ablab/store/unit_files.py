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
        # No progress bar: DuckDB draws it on stdout, where it would corrupt --output json.
        with duckdb.connect() as connection:
            connection.execute("SET enable_progress_bar = false")
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
    def _refuse_non_numeric(
        connection: duckdb.DuckDBPyConnection, source: str, path: Path, column: str, option: str
    ) -> None:
        """Raise with a count and an example; only runs once the aggregate found some."""
        bad = connection.execute(
            f"SELECT count(*), any_value({_quote(column)}::VARCHAR) FROM {source} "
            f"WHERE {_quote(column)} IS NOT NULL AND TRY_CAST({_quote(column)} AS DOUBLE) IS NULL",
            [str(path)],
        ).fetchone()
        assert bad is not None
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
        y = _quote(metric)
        x = _quote(covariate) if covariate else "0.0"
        # One pass: rows to units (averaged), units to variants, and the count of values that
        # are not numbers, so a bad file costs no extra scan until it is reported.
        query = f"""
            WITH rows AS (
                SELECT CAST({_quote(unit)} AS VARCHAR) AS unit,
                       CAST({_quote(variant)} AS VARCHAR) AS variant,
                       TRY_CAST({y} AS DOUBLE) AS y,
                       TRY_CAST({x} AS DOUBLE) AS x,
                       ({y} IS NOT NULL AND TRY_CAST({y} AS DOUBLE) IS NULL) AS bad_y,
                       ({x} IS NOT NULL AND TRY_CAST({x} AS DOUBLE) IS NULL) AS bad_x
                FROM {source}
                WHERE {_quote(unit)} IS NOT NULL AND {_quote(variant)} IS NOT NULL
                  AND {y} IS NOT NULL
            ),
            units AS (
                SELECT unit, min(variant) AS variant, min(variant) <> max(variant) AS mixed,
                       avg(y) AS y, avg(x) AS x, count(*) AS rows,
                       count(*) FILTER (WHERE bad_y) AS bad_y,
                       count(*) FILTER (WHERE bad_x) AS bad_x
                FROM rows GROUP BY unit
            )
            SELECT variant, mixed, count(*) AS n, sum(rows) AS rows,
                   coalesce(sum(y), 0), coalesce(sum(y * y), 0), coalesce(sum(x), 0),
                   coalesce(sum(x * x), 0), coalesce(sum(x * y), 0),
                   bool_and(y = 0 OR y = 1) AS binary, sum(bad_y), sum(bad_x)
            FROM units GROUP BY ALL ORDER BY variant
        """
        results = connection.execute(query, [str(path)]).fetchall()
        if any(row[10] for row in results):
            DuckDBUnitTableReader._refuse_non_numeric(connection, source, path, metric, "--metric")
        if covariate is not None and any(row[11] for row in results):
            DuckDBUnitTableReader._refuse_non_numeric(
                connection, source, path, covariate, "--covariate"
            )
        table: dict[str, CovariateMoments] = {}
        rows = units = excluded = 0
        binary = True
        for name, mixed, n, n_rows, y, yy, xs, xx, xy, is_binary, _, _ in results:
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
