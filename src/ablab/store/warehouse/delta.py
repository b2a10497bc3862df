"""A Delta table as a relation any engine reads: its current files, through delta-rs.

A Delta table's folder also holds files its log has removed (an overwritten partition, a
compacted one), so reading the folder's Parquet would count rows twice. delta-rs
(``deltalake``) reads the log and names the files of the table's current version with
their partition values; the relation reads exactly those, one directory at a time, and
adds each partition column as text, since Delta keeps partition values in the log and in
the folder names, not in the files. No engine needs a Delta reader of its own, which
neither Spark (its Delta jars come from Maven) nor an offline DuckDB (its extension is
downloaded) would have here.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path, PurePosixPath

import pyarrow as pa

from ablab.errors import ValidationError
from ablab.extras import needs_extra
from ablab.store.events.engines import Engine

__all__ = ["delta_relation"]


def delta_relation(path: Path, engine: Engine) -> str:
    """A parenthesised SELECT of ``engine`` over the current files of the Delta table at
    ``path``: the files' columns, then each partition column as text.

    Raises:
        MissingExtra: deltalake is not installed (``ablab[delta]``).
        ValidationError: no Delta table at ``path``, or a table without a file.
    """
    with needs_extra("delta", feature="Delta tables", package="deltalake"):
        from deltalake import DeltaTable  # noqa: PLC0415 - the optional extra ablab[delta]
        from deltalake.exceptions import TableNotFoundError  # noqa: PLC0415 - likewise

    try:
        table = DeltaTable(str(path))
    except TableNotFoundError:
        raise ValidationError(f"no Delta table at {path}", details={"path": str(path)}) from None
    partitions = list(table.metadata().partition_columns)
    # Arrow's C data interface: deltalake's own table type becomes pyarrow's.
    actions = pa.table(table.get_add_actions(flatten=True)).to_pydict()
    groups: dict[tuple[str, tuple[str | None, ...]], list[str]] = defaultdict(list)
    for i, relative in enumerate(actions["path"]):
        file = PurePosixPath(path.resolve().as_posix()) / relative
        values = tuple(actions[f"partition.{name}"][i] for name in partitions)
        groups[(str(file.parent), values)].append(file.name)
    if not groups:
        raise ValidationError(
            f"the Delta table at {path} has no files", details={"path": str(path)}
        )
    selects = []
    for (folder, values), names in sorted(groups.items(), key=lambda item: str(item[0])):
        added = "".join(
            f", {_text(value, engine)} AS {engine.identifier(name)}"
            for name, value in zip(partitions, values, strict=True)
        )
        # ClickHouse reads the partition columns from the folder names too (hive style).
        every = "*"
        if engine.name == "clickhouse" and partitions:
            every = f"* EXCEPT ({', '.join(engine.identifier(name) for name in partitions)})"
        selects.append(f"SELECT {every}{added} FROM {_files(folder, sorted(names), engine)}")
    return "(" + " UNION ALL ".join(selects) + ")"


def _files(folder: str, names: list[str], engine: Engine) -> str:
    """``engine``'s reader of the Parquet files ``names`` of one folder."""
    if any(ch in name for name in names for ch in "{},*?[]`'\\"):
        raise ValidationError(f"a Delta file name in {folder} has characters no glob keeps")
    if engine.name == "duckdb":
        listed = ", ".join(engine.string(f"{folder}/{name}") for name in names)
        return f"read_parquet([{listed}], hive_partitioning = false)"
    glob = f"{folder}/{{{','.join(names)}}}" if len(names) > 1 else f"{folder}/{names[0]}"
    if engine.name == "clickhouse":
        return f"file({engine.string(glob)}, Parquet)"
    if engine.name == "spark":
        return "parquet.`" + glob.replace("`", "``") + "`"
    raise ValidationError(f"{engine.name} reads no local files: name a table or a select")


def _text(value: object, engine: Engine) -> str:
    return "NULL" if value is None else engine.string(str(value))
