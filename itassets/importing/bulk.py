"""Bulk INSERT and UPDATE of plain value tuples, for imports of 100,000 rows.

Django's ``bulk_create``/``bulk_update`` build a model instance and compile every field of
every row in Python: profiled on the asset table that cost about 0.8 ms per row, more than
the whole import budget (0.1 ms per row at 10,000 rows/s). Here the rows are tuples of
Python values converted once per column type, sent with the driver's ``executemany``
(mysqlclient folds it into multi-row INSERTs); updates join the table to a derived table of
the new values (one statement per batch on MySQL/MariaDB; ``executemany`` of single-row
UPDATEs elsewhere, i.e. SQLite in embedded mode). Identifiers come from the model's
metadata, values are always query parameters.

Callers own validation (full_clean is not run) and the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

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
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            cursor.executemany(sql, _convert(rows[start : start + batch], converters))


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
