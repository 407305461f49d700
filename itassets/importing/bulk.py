"""Bulk INSERT and UPDATE of plain values, for imports of 100,000 rows.

Django's ``bulk_create``/``bulk_update`` build a model instance and compile every field of
every row in Python: profiled on the asset table that cost about 0.8 ms per row, more than
the whole import budget (0.1 ms per row at 10,000 rows/s). Here the rows are tuples of
Python values (or columns of them) converted once per column type.

On MySQL/MariaDB the statements are SQL text built a column at a time (see
:func:`_mysql_rows`): every text of a column is escaped by ONE call of the driver's
``escape_string`` (``mysql_real_escape_string``: the connection's character set and SQL mode
apply), numbers and dates are formatted by Python's ``%`` operator, and each row is one
``%`` of a per-column format, so the per-value work happens in C. Inserts are multi-row
statements (with ``RETURNING id`` on MariaDB, so new ids need no second query); updates join
the table to a derived table of the new values, one statement per batch. Elsewhere (SQLite in
embedded mode) ``executemany`` with parameters.

Identifiers come from the model's metadata; values are literals escaped by the driver or
query parameters. Callers own validation (full_clean is not run) and the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, models

INSERT_BATCH = 2000
UPDATE_BATCH = 1000
MAX_STATEMENT = 4 << 20  # bytes; MariaDB's max_allowed_packet is 16 MB by default
_SEPARATOR = "\uffff"  # a noncharacter: never expected in text, and checked (see _escaped)


def _converter(field: models.Field) -> Callable | None:
    """Python value → database value, for the types an import writes (JSON as its text)."""
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


def _fields(model, names: Sequence[str]) -> list[models.Field]:
    by_name = {}
    for field in model._meta.concrete_fields:
        by_name[field.attname] = field
        by_name[field.name] = field
    return [by_name[name] for name in names]


def _convert_columns(
    columns: list[Sequence], fields: list[models.Field], encoded: Sequence[str] = ()
) -> list[Sequence]:
    out = []
    for values, field in zip(columns, fields, strict=True):
        convert = None if field.name in encoded or field.attname in encoded else _converter(field)
        out.append(values if convert is None else [convert(v) for v in values])
    return out


def _transpose(rows: Sequence[Sequence], width: int) -> list[Sequence]:
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


# --- MySQL / MariaDB: SQL text built a column at a time ----------------------------------


def _escaped(texts: list[str]) -> list[str]:
    """The texts escaped for a quoted SQL literal, by one driver call for all of them."""
    if not texts:
        return []
    raw = connection.connection
    joined = _SEPARATOR.join(texts)
    parts = raw.escape_string(joined).decode().split(_SEPARATOR)
    if len(parts) != len(texts):  # a text contained the separator: escape one by one
        parts = [raw.escape_string(t).decode() for t in texts]
    return parts


def _column_literals(values: Sequence) -> tuple[str, Sequence]:
    """A column as (the format of its values in a row, the values to format): text, numbers
    and dates go into the row format as they are (quoted where needed); a column with NULLs
    or mixed types is turned into literal texts here."""
    kinds = {v.__class__ for v in values}
    if kinds == {str}:
        return "'%s'", _escaped(list(values))
    if kinds == {int}:
        return "%d", values
    if kinds <= {int, Decimal} and kinds:
        return "%s", values
    if kinds == {date}:
        return "'%s'", values
    if not kinds:
        return "%s", values
    # NULLs or mixed types: one literal per value
    strings = [v for v in values if v.__class__ is str]
    escaped = iter(_escaped(strings))
    out = []
    for v in values:
        cls = v.__class__
        if v is None:
            out.append("NULL")
        elif cls is str:
            out.append(f"'{next(escaped)}'")
        elif cls is bool:
            out.append("1" if v else "0")
        elif cls is int or cls is Decimal:
            out.append(str(v))
        elif cls is float:
            out.append(repr(v))
        elif cls is date:
            out.append(f"'{v.isoformat()}'")
        elif cls is datetime:
            out.append(f"'{v.isoformat(sep=' ')}'")
        else:
            out.append(f"'{_escaped([str(v)])[0]}'")
    return "%s", out


def _constant_literal(value) -> str:
    """One value as SQL text (for constant columns, written into the row format)."""
    spec, (literal,) = _column_literals([value])
    return (spec % literal).replace("%", "%%")


def _mysql_rows(columns: list[Sequence], constants: Sequence = ()) -> tuple[list[str], int]:
    """``(row texts, number of rows)``: each row as ``v1,v2,…`` (no parentheses), the
    ``constants`` (already SQL text) after the columns."""
    specs, prepared = [], []
    for values in columns:
        spec, values = _column_literals(values)
        specs.append(spec)
        prepared.append(values)
    fmt = ",".join([*specs, *constants])
    count = len(prepared[0]) if prepared else 0
    return [fmt % row for row in zip(*prepared, strict=True)], count


def _statements(prefix: str, rows: list[str], suffix: str = "", joiner: str = "),(") -> list:
    """``prefix`` + rows joined + ``suffix``, split so that no statement passes
    MAX_STATEMENT bytes."""
    out = []
    start = 0
    while start < len(rows):
        end = len(rows)
        while True:
            sql = (prefix + joiner.join(rows[start:end]) + suffix).encode()
            if len(sql) <= MAX_STATEMENT or end - start == 1:
                break
            end = start + max(1, (end - start) // 2)
        out.append((sql, end - start))
        start = end
    return out


# --- API -------------------------------------------------------------------------------


class PreparedInsert:
    """An INSERT built ahead of running it, possibly on another thread (an import builds
    its statements on the validating thread, so that the writer thread only runs them).

    With ``lead``, the rows lack their first column's values, which :meth:`run` takes (an
    import event's asset id, known once the asset INSERT has returned it). On MySQL the
    statements are SQL text built a column at a time (see :func:`_mysql_rows`); elsewhere
    rows of parameters for ``executemany``."""

    def __init__(self, *, sql, batches, returning, lead):
        self.sql = sql  # MySQL: (prefix, suffix); else the statement with placeholders
        self.batches = batches  # MySQL: statements (bytes) or, with lead, row texts per batch
        self.returning = returning
        self.lead = lead

    def run(self, lead: Sequence = ()) -> list[int] | None:
        """Execute on the current thread's connection; with ``returning``, the new primary
        keys in row order (None if the database cannot return them)."""
        if self.lead and len(lead) != sum(len(b) for b in self.batches):
            raise ValueError("one leading value per row")
        if connection.vendor != "mysql":
            with connection.cursor() as cursor:
                start = 0
                for rows in self.batches:
                    if self.lead:
                        rows = [(v, *row) for v, row in zip(lead[start:], rows, strict=False)]
                        start += len(rows)
                    cursor.executemany(self.sql, rows)
            return None
        connection.ensure_connection()
        ids: list[int] = []
        cursor = connection.connection.cursor()
        try:
            if self.lead:
                prefix, suffix = self.sql
                statements, start = [], 0
                for rows in self.batches:
                    values = lead[start : start + len(rows)]
                    start += len(rows)
                    texts = [
                        f"{v}{row}" for v, row in zip(_lead_literals(values), rows, strict=True)
                    ]
                    statements.extend(_statements(prefix, texts, suffix))
            else:
                statements = self.batches
            for sql, _rows in statements:
                cursor.execute(sql)
                if self.returning:
                    ids.extend(pk for (pk,) in cursor.fetchall())
        finally:
            cursor.close()
        return ids if self.returning else None


def _lead_literals(values: Sequence) -> Sequence:
    spec, literals = _column_literals(values)
    return [spec % v for v in literals] if spec != "%s" else literals


def prepare_insert(
    model,
    names: Sequence[str],
    columns: list[Sequence],
    *,
    constants: dict | None = None,
    encoded: Sequence[str] = (),
    returning: bool = False,
    batch: int = INSERT_BATCH,
    lead: str | None = None,
) -> PreparedInsert:
    """An INSERT of rows given as ``columns`` (one sequence of values per name in
    ``names``, field names or attnames) and ``constants`` (name → the value of every row),
    to run later (see :class:`PreparedInsert`). ``encoded`` names columns whose values are
    database values already (JSON as its text); ``lead`` names a first column whose values
    :meth:`PreparedInsert.run` takes. With ``returning``, ``run`` answers the new primary
    keys in row order (None if the database cannot return them from a multi-row insert:
    the caller looks them up)."""
    constants = constants or {}
    leading = [lead] if lead else []
    count = len(columns[0]) if columns else 0
    fields = _fields(model, [*leading, *names, *constants])
    values = _convert_columns(
        [*columns, *([[v] for v in constants.values()])], fields[len(leading) :], encoded
    )
    columns, constant_values = values[: len(names)], [v[0] for v in values[len(names) :]]
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    column_sql = ", ".join(qn(f.column) for f in fields)
    can_return = returning and connection.features.can_return_rows_from_bulk_insert
    if connection.vendor != "mysql":
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({column_sql}) VALUES ({placeholders})"  # noqa: S608
        batches = [
            [
                (*row, *constant_values)
                for row in zip(*(c[start : start + batch] for c in columns), strict=True)
            ]
            for start in range(0, count, batch)
        ]
        return PreparedInsert(sql=sql, batches=batches, returning=False, lead=bool(lead))
    connection.ensure_connection()
    prefix = f"INSERT INTO {table} ({column_sql}) VALUES ("  # noqa: S608
    suffix = f") RETURNING {qn(model._meta.pk.column)}" if can_return else ")"
    constants_sql = [_constant_literal(v) for v in constant_values]
    batches = []
    for start in range(0, count, batch):
        rows, _n = _mysql_rows([c[start : start + batch] for c in columns], constants_sql)
        if lead:
            batches.append([f",{row}" for row in rows])
        else:
            batches.extend(_statements(prefix, rows, suffix))
    return PreparedInsert(
        sql=(prefix, suffix) if lead else None,
        batches=batches,
        returning=can_return,
        lead=bool(lead),
    )


def insert_columns(
    model,
    names: Sequence[str],
    columns: list[Sequence],
    *,
    constants: dict | None = None,
    encoded: Sequence[str] = (),
    returning: bool = False,
    batch: int = INSERT_BATCH,
) -> list[int] | None:
    """INSERT rows given as ``columns`` now (see :func:`prepare_insert`)."""
    if not (len(columns[0]) if columns else 0):
        return [] if returning else None
    prepared = prepare_insert(
        model,
        names,
        columns,
        constants=constants,
        encoded=encoded,
        returning=returning,
        batch=batch,
    )
    return prepared.run()


def insert_rows(model, names: Sequence[str], rows: Sequence[Sequence], *, batch=INSERT_BATCH):
    """INSERT ``rows`` (tuples in the order of ``names``: field names or attnames)."""
    if rows:
        insert_columns(model, names, _transpose(rows, len(names)), batch=batch)


def update_rows(model, names: Sequence[str], rows: Sequence[Sequence], *, batch=UPDATE_BATCH):
    """UPDATE by primary key: each row is (pk, *values in the order of ``names``)."""
    if not rows:
        return
    qn = connection.ops.quote_name
    fields = _fields(model, names)
    table = qn(model._meta.db_table)
    pk = qn(model._meta.pk.column)
    for start in range(0, len(rows), batch):
        chunk = _transpose(rows[start : start + batch], len(names) + 1)
        pks, columns = chunk[0], _convert_columns(chunk[1:], fields)
        if connection.vendor == "mysql":
            connection.ensure_connection()
            # a first row of NULLs names the derived table's columns (it joins nothing)
            head = ", ".join(f"NULL AS {qn(c)}" for c in ["__pk", *(f.column for f in fields)])
            literal_rows, _n = _mysql_rows([pks, *columns])
            assignments = ", ".join(f"t.{qn(f.column)} = v.{qn(f.column)}" for f in fields)
            prefix = f"UPDATE {table} t JOIN (SELECT {head} UNION ALL SELECT "
            suffix = f") v ON t.{pk} = v.{qn('__pk')} SET {assignments}"
            cursor = connection.connection.cursor()
            try:
                for sql, _rows in _statements(prefix, literal_rows, suffix, " UNION ALL SELECT "):
                    cursor.execute(sql)
            finally:
                cursor.close()
        else:
            assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
            sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
            with connection.cursor() as cursor:
                params = [(*row[1:], row[0]) for row in zip(pks, *columns, strict=True)]
                cursor.executemany(sql, params)


def copy_rows(
    source,
    target,
    names: Sequence[str],
    pks: Sequence[int],
    *,
    constants: dict | None = None,
    pk_as: str | None = None,
    batch: int = INSERT_BATCH,
) -> int:
    """INSERT … SELECT: copy the rows of ``source`` with primary keys ``pks`` into
    ``target`` (``names``: fields of both, attnames), with ``constants`` (target name →
    value of every row) and the source's primary key also into the target's ``pk_as``.
    The rows are copied inside the database, as they are in this transaction. Returns how
    many rows were copied."""
    constants = constants or {}
    qn = connection.ops.quote_name
    source_fields = _fields(source, names)
    target_fields = _fields(target, [*names, *constants, *([pk_as] if pk_as else [])])
    constant_values = []
    for value, field in zip(constants.values(), target_fields[len(names) :], strict=False):
        convert = _converter(field)
        constant_values.append(value if convert is None else convert(value))
    select = [qn(f.column) for f in source_fields] + ["%s"] * len(constants)
    if pk_as:
        select.append(qn(source._meta.pk.column))
    head = (
        f"INSERT INTO {qn(target._meta.db_table)} "  # noqa: S608 (identifiers from the models)
        f"({', '.join(qn(f.column) for f in target_fields)}) "
        f"SELECT {', '.join(select)} FROM {qn(source._meta.db_table)} "
        f"WHERE {qn(source._meta.pk.column)} IN "
    )
    copied = 0
    with connection.cursor() as cursor:
        for start in range(0, len(pks), batch):
            chunk = [int(pk) for pk in pks[start : start + batch]]
            cursor.execute(head + f"({', '.join(map(str, chunk))})", constant_values)
            copied += cursor.rowcount
    return copied


def ids_by(model, field: str, values: Sequence) -> dict:
    """value → pk for a unique ``field`` (one query per 2,000 values; on MySQL the values
    are written into the statement escaped by the driver in one call, not prepared one by
    one by the ORM)."""
    found = {}
    if connection.vendor == "mysql":
        qn = connection.ops.quote_name
        column = qn(model._meta.get_field(field).column)
        pk = qn(model._meta.pk.column)
        connection.ensure_connection()
        cursor = connection.connection.cursor()
        try:
            for start in range(0, len(values), INSERT_BATCH):
                literals, _n = _mysql_rows([values[start : start + INSERT_BATCH]])
                cursor.execute(
                    f"SELECT {column}, {pk} FROM {qn(model._meta.db_table)} "  # noqa: S608
                    f"WHERE {column} IN ({','.join(literals)})"
                )
                found.update(cursor.fetchall())
        finally:
            cursor.close()
        return found
    for start in range(0, len(values), INSERT_BATCH):
        found.update(
            model._default_manager.filter(
                **{f"{field}__in": values[start : start + INSERT_BATCH]}
            ).values_list(field, "pk")
        )
    return found
