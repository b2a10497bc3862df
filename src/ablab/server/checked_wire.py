"""A checked batch between processes: a small JSON header and the tables as Arrow IPC.

The checker processes (:mod:`ablab.server.event_check_worker`) answer each body with two
messages: the header (events received, refusals, exposed units, and the byte length of each
table's IPC stream, in order) and the streams back to back. The server reads the tables
without copying them (``pa.ipc.open_stream`` on slices of the received buffer) and hands
them to the event store as they are. A body the worker refuses comes back as the header
``{"error": {"code", "message", "details"}}`` and is raised again here as the same class;
an unexpected failure there as ``{"failure": "..."}``, raised here as a RuntimeError.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from ablab.errors import AblabError, error_class_for
from ablab.services.events.ingest import CheckedEvents, EventError
from ablab.services.ports import EventBatch

__all__ = ["decode_checked", "encode_checked", "encode_error"]


def encode_checked(checked: CheckedEvents) -> tuple[bytes, pa.Buffer]:
    """The header and the tables of ``checked``."""
    sink = pa.BufferOutputStream()
    sizes: list[tuple[str, int]] = []
    for kind, table in checked.batch.tables.items():
        start = sink.tell()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        sizes.append((kind, sink.tell() - start))
    header = {
        "received": checked.received,
        "rejected": [[e.index, e.event_id, e.reason, e.field] for e in checked.rejected],
        "exposed": checked.exposed,
        "tables": sizes,
    }
    return orjson.dumps(header), sink.getvalue()


def encode_error(error: AblabError) -> bytes:
    """The header of a refused body."""
    return orjson.dumps({"error": error.to_dict()})


def decode_checked(header: bytes, payload: bytes) -> CheckedEvents:
    """The batch :func:`encode_checked` sent.

    Raises:
        AblabError: the worker refused the body (the class its code names).
    """
    found: dict[str, Any] = orjson.loads(header)
    error = found.get("error")
    if error is not None:
        raise error_class_for(error["code"])(error["message"], details=error["details"])
    if "failure" in found:  # a bug, not the body's fault: answered as the server's own (500)
        raise RuntimeError(f"checking events failed in a checker process: {found['failure']}")
    batch = EventBatch()
    buffer, offset = pa.py_buffer(payload), 0
    for kind, size in found["tables"]:
        batch.tables[kind] = pa.ipc.open_stream(buffer.slice(offset, size)).read_all()
        offset += size
    rejected = [EventError(*refusal) for refusal in found["rejected"]]
    return CheckedEvents(found["received"], batch, rejected, found["exposed"])
