"""PostgreSQL's binary COPY format, written by hand where psycopg's per-value encoding is slow.

A stream is a header, then per row a field count and each field as its length (-1: NULL)
and bytes, then a trailer (a field count of -1). Rows whose leading fields are integers
and timestamps are packed with one `struct` call each (`head_packer`); the fields they
share with many other rows are encoded once by psycopg (`encode_fields`) and appended.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import Connection as PsycopgConnection
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import Format

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
_NULL_FIELD = b"\xff\xff\xff\xff"
_FIELD_SIZE = struct.Struct(">i")
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INT4, _INT8, _TIMESTAMPTZ = 23, 20, 1184


def encode_fields(raw: PsycopgConnection[Any], oids: Sequence[int], values: Sequence[Any]) -> bytes:
    """`values` (as the driver takes them) as consecutive fields of types `oids`."""
    transformer = Transformer(raw)
    transformer.set_dumper_types(list(oids), Format.BINARY)
    dumped = transformer.dump_sequence(values, [PyFormat.BINARY] * len(values))
    return b"".join(
        _NULL_FIELD if field is None else _FIELD_SIZE.pack(len(field)) + bytes(field)
        for field in dumped
    )


def head_packer(oids: Sequence[int], count: int) -> Callable[[Sequence[Any]], bytes]:
    """row -> its binary COPY bytes, for rows of `count` leading values and encoded fields.

    The leading values must be integers (int4, int8) or aware timestamps (timestamptz),
    none NULL; the row's last item is the bytes of its remaining fields.
    """
    layout = ">h"
    sizes: list[int] = []
    is_timestamp: list[bool] = []
    for oid in oids[:count]:
        if oid not in (_INT4, _INT8, _TIMESTAMPTZ):
            raise TypeError(f"a leading column of type oid {oid}: encode it in the tail")
        layout += "ii" if oid == _INT4 else "iq"
        sizes.append(4 if oid == _INT4 else 8)
        is_timestamp.append(oid == _TIMESTAMPTZ)
    fields = len(oids)
    struct_pack = struct.Struct(layout).pack
    columns = list(enumerate(zip(sizes, is_timestamp, strict=True)))

    def pack(row: Sequence[Any]) -> bytes:
        values: list[Any] = [fields]
        for index, (size, timestamp) in columns:
            value = row[index]
            values += (size, _timestamptz(value) if timestamp else value)
        return struct_pack(*values) + row[count]

    return pack


def _timestamptz(value: datetime) -> int:
    """Microseconds since PostgreSQL's epoch; naive datetimes are refused as UTCDateTime does."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given where UTC is required")
    return (value - _PG_EPOCH) // _MICROSECOND
