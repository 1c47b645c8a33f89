"""`column IN (a list)` with the whole list bound as one parameter, on SQLite and PostgreSQL.

An expanding IN renders one placeholder per key on every execution: for the import's
lookups of a thousand keys that costs more than the query itself. Here the statement
compiles once and stays in SQLAlchemy's cache; the list travels as a JSON text that SQLite
unpacks with json_each, or as an array for PostgreSQL's `= ANY`. Both still search the
column's index key by key.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import Boolean, ColumnElement, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, UserDefinedType


class _ListType(UserDefinedType[list[Any]]):
    """The raw parameter type; ListParam decides how a list is sent."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "TEXT"


class ListParam(TypeDecorator[Collection[Any]]):
    """A list of strings or integers sent as one parameter: JSON text on SQLite, else an array."""

    impl = _ListType
    cache_ok = True

    def process_bind_param(self, value: Collection[Any] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        items = list(value)
        return json.dumps(items, ensure_ascii=False) if dialect.name == "sqlite" else items


class InList(ColumnElement[bool]):
    """`column IN :name` where :name is bound to a whole list (see in_list_param)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition, not a boolean value to compare with 1
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("param", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any], name: str) -> None:
        self.column = column.expression if isinstance(column, QueryableAttribute) else column
        self.param = bindparam(name, type_=ListParam())


def in_list_param(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str = "keys"
) -> InList:
    """A WHERE clause for `column IN (the list given as parameter `name` at execution)`."""
    return InList(column, name)


@compiles(InList)
def _compile_any(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL, and the default dialect str() uses: standard SQL's `= ANY (array)`.
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY ({compiler.process(element.param, **kw)})"


@compiles(InList, "sqlite")
def _compile_sqlite(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} IN (SELECT value FROM json_each({compiler.process(element.param, **kw)}))"
