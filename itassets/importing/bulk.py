"""Bulk INSERT and UPDATE of plain value tuples, for imports of 100,000 rows.

Django's ``bulk_create``/``bulk_update`` build a model instance and compile every field of
every row in Python: profiled on the asset table that cost about 0.8 ms per row, more than
the whole import budget (0.1 ms per row at 10,000 rows/s). Here the rows are tuples of
Python values converted once per column type. On MySQL/MariaDB inserts are multi-row
statements whose texts are escaped by the driver in one call per batch (see
``_mysql_insert``); elsewhere (SQLite in embedded mode) ``executemany``. Updates join the
table to a derived table of the new values (one statement per batch on MySQL/MariaDB;
``executemany`` of single-row UPDATEs elsewhere). Identifiers come from the model's
metadata; values are query parameters or literals escaped by the driver.

Callers own validation (full_clean is not run) and the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from django.db import connection, models

INSERT_BATCH = 2000
UPDATE_BATCH = 1000


def _converter(field: models.Field) -> Callable | None:
    """Python value → database parameter, for the types an import writes."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda v: None if v is None else json.dumps(v, cls=encoder)
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        last: list = [None, None]  # an import stamps every row with the same time

        def convert(v):
            if v is None:
                return None
            if v is not last[0]:
                last[:] = [v, adapt(v)]
            return last[1]

        return convert
    if isinstance(field, models.BooleanField):
        return lambda v: None if v is None else int(v)
    return None


def _columns(model, names: Sequence[str]) -> tuple[list[str], list[Callable | None]]:
    by_name = {}
    for field in model._meta.concrete_fields:
        by_name[field.attname] = field
        by_name[field.name] = field
    fields = [by_name[name] for name in names]
    return [f.column for f in fields], [_converter(f) for f in fields]


def _convert(rows: Sequence[Sequence], converters: list[Callable | None]) -> list[tuple]:
    active = [(i, c) for i, c in enumerate(converters) if c is not None]
    if not active:
        return [tuple(r) for r in rows]
    out = []
    for row in rows:
        row = list(row)
        for i, convert in active:
            row[i] = convert(row[i])
        out.append(tuple(row))
    return out


def insert_rows(model, names: Sequence[str], rows: Sequence[Sequence], *, batch=INSERT_BATCH):
    """INSERT ``rows`` (tuples in the order of ``names``: field names or attnames)."""
    if not rows:
        return
    qn = connection.ops.quote_name
    columns, converters = _columns(model, names)
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    if connection.vendor == "mysql":
        connection.ensure_connection()
        prefix = sql[: sql.index("VALUES") + len("VALUES")].encode() + b" "
        for start in range(0, len(rows), batch):
            _mysql_insert(prefix, _convert(rows[start : start + batch], converters))
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            cursor.executemany(sql, _convert(rows[start : start + batch], converters))


_SEPARATOR = b"\xff"  # never part of UTF-8 text, never changed by the driver's escaping
MAX_STATEMENT = 1 << 20


def _literal(value, texts: list) -> bytes | int:
    """A value as an SQL literal, or the index of its text in ``texts`` (escaped later)."""
    cls = value.__class__
    if value is None:
        return b"NULL"
    if cls is str:
        texts.append(value.encode())
        return len(texts) - 1
    if cls is bool:
        return b"1" if value else b"0"
    if cls is int or cls is Decimal:
        return str(value).encode()
    if cls is float:
        return repr(value).encode()
    if cls is date:
        return b"'" + value.isoformat().encode() + b"'"
    texts.append(str(value).encode())
    return len(texts) - 1


def _mysql_insert(prefix: bytes, rows: list[tuple]) -> None:
    """Multi-row INSERTs of up to 1 MB, every text of the batch escaped by ONE call of the
    driver's ``escape_string`` (mysql_real_escape_string: the connection's character set and
    SQL mode apply) on the texts joined by a byte that UTF-8 never contains.

    mysqlclient's ``executemany`` escapes value by value through Python (``literal``), which
    was most of the write phase's CPU time; this does the same escaping in C, once."""
    texts: list[bytes] = []
    literal_rows = [[_literal(v, texts) for v in row] for row in rows]
    if any(_SEPARATOR in t for t in texts):  # impossible for UTF-8; be safe anyway
        raise ValueError("text contains a 0xFF byte")
    raw = connection.connection
    escaped = raw.escape_string(_SEPARATOR.join(texts)).split(_SEPARATOR) if texts else []
    quoted = [b"'" + e + b"'" for e in escaped]
    statements, current, size = [], [], len(prefix)
    for row in literal_rows:
        sql_row = (
            b"(" + b",".join(quoted[part] if part.__class__ is int else part for part in row) + b")"
        )
        if current and size + len(sql_row) + 1 > MAX_STATEMENT:
            statements.append(current)
            current, size = [], len(prefix)
        current.append(sql_row)
        size += len(sql_row) + 1
    if current:
        statements.append(current)
    cursor = raw.cursor()
    try:
        for values in statements:
            cursor.execute(prefix + b",".join(values))
    finally:
        cursor.close()


def update_rows(model, names: Sequence[str], rows: Sequence[Sequence], *, batch=UPDATE_BATCH):
    """UPDATE by primary key: each row is (pk, *values in the order of ``names``)."""
    if not rows:
        return
    qn = connection.ops.quote_name
    columns, converters = _columns(model, names)
    converters = [None, *converters]
    table = qn(model._meta.db_table)
    pk = qn(model._meta.pk.column)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = _convert(rows[start : start + batch], converters)
            if connection.vendor == "mysql":
                first = "SELECT " + ", ".join(f"%s AS {qn(c)}" for c in ["__pk", *columns])
                rest = " UNION ALL SELECT " + ", ".join(["%s"] * (len(columns) + 1))
                derived = first + rest * (len(chunk) - 1)
                assignments = ", ".join(f"t.{qn(c)} = v.{qn(c)}" for c in columns)
                sql = (
                    f"UPDATE {table} t JOIN ({derived}) v ON t.{pk} = v.{qn('__pk')} "  # noqa: S608
                    f"SET {assignments}"
                )
                cursor.execute(sql, [value for row in chunk for value in row])
            else:
                assignments = ", ".join(f"{qn(c)} = %s" for c in columns)
                sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
                cursor.executemany(sql, [(*row[1:], row[0]) for row in chunk])


def ids_by(model, field: str, values: Sequence) -> dict:
    """value → pk for a unique ``field`` (one query per 2,000 values)."""
    found = {}
    for start in range(0, len(values), INSERT_BATCH):
        found.update(
            model._default_manager.filter(
                **{f"{field}__in": values[start : start + INSERT_BATCH]}
            ).values_list(field, "pk")
        )
    return found
