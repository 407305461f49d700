"""The statements of posting's hot path, as SQL built once from the models' metadata.

Posting a scanner's one-line issue is one locked read of the stock row and five writes
(sequence, document, line, ledger entry, stock row), all while the stock row is locked.
Through the ORM each statement costs more CPU to build (about 300-600 Python calls) than the
database takes to run it, and a hot item's postings queue behind that lock, so the posting
service runs these few statements directly. They stay as correct as the ORM's:

- table and column names come from the models (``_meta``) and are quoted by the backend, so
  a renamed field or table changes the statements with it;
- values go in through each field's ``get_db_prep_save`` (decimal places, time zones,
  foreign keys), exactly as ``Model.save`` sends them, and come out through the backend's and
  the field's converters, exactly as a queryset reads them;
- the new row's id comes back with ``RETURNING`` where the database has it (MariaDB, SQLite)
  and from the insert id otherwise (MySQL), as in ``Model.save``.

Only inserts of new rows, the stock row's lock and its update, and two lookups by unique
index (the idempotency key, a warehouse's keeper) live here; the rules (what is
locked, in which order, what may be written) stay in ``documents.py``. Model ``save()``
methods and signals are not involved: the guards of ``Document.save`` / ``DocumentLine.save``
refuse writes to posted documents, and these statements write only the posting's own new
rows and the stock rows it has locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cache

from django.db import connection, models
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from ..models import Document, Stock, Warehouse

ZERO = Decimal(0)


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _insert_sql(model: type[models.Model], vendor: str) -> tuple[str, str, list, bool]:
    """``INSERT INTO t (cols) VALUES `` , one row's placeholders, the fields, returning?"""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    head = (
        f"INSERT INTO {_qn(meta.db_table)} "  # noqa: S608 (names from the model, quoted)
        f"({', '.join(_qn(f.column) for f in fields)}) VALUES "
    )
    row = f"({', '.join(['%s'] * len(fields))})"
    return head, row, fields, connection.features.can_return_columns_from_insert


def _row(obj: models.Model, fields: list) -> list:
    return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


def insert(obj: models.Model) -> None:
    """Insert one new row and set its primary key (like ``save(force_insert=True)``, without
    the model's ``save()`` and signals). Foreign keys must hold the related rows' ids."""
    model = type(obj)
    head, row, fields, returning = _insert_sql(model, connection.vendor)
    sql = head + row
    pk = model._meta.pk
    if returning:
        clause, _params = connection.ops.return_insert_columns([pk])
        sql = f"{sql} {clause}"
    with connection.cursor() as cursor:
        cursor.execute(sql, _row(obj, fields))
        if returning:
            value = cursor.fetchone()[0]
        else:
            value = connection.ops.last_insert_id(cursor, model._meta.db_table, pk.column)
    obj.pk = value
    obj._state.adding = False
    obj._state.db = connection.alias


def insert_many(objs: Sequence[models.Model]) -> None:
    """Insert new rows of one model in as few statements as the backend allows (like
    ``bulk_create``); their primary keys are not read back."""
    if not objs:
        return
    head, row, fields, _returning = _insert_sql(type(objs[0]), connection.vendor)
    size = connection.ops.bulk_batch_size(fields, objs) or len(objs)
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            params = [value for obj in batch for value in _row(obj, fields)]
            cursor.execute(head + ", ".join([row] * len(batch)), params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def user_keeps_warehouse(user_id: int, warehouse_id: int) -> bool:
    """Whether the user is one of the warehouse's keepers (asked by every posting)."""
    meta = Warehouse.keepers.through._meta
    sql = (
        f"SELECT 1 FROM {_qn(meta.db_table)} "  # noqa: S608
        f"WHERE {_qn(meta.get_field('warehouse').column)} = %s "
        f"AND {_qn(meta.get_field('user').column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [warehouse_id, user_id])
        return cursor.fetchone() is not None


def document_id_by_key(key: str) -> int | None:
    """The id of the document holding an idempotency key (its unique index), or None. Asked
    of every refused scan, to tell a replay of a posted request from a new one."""
    meta = Document._meta
    sql = (
        f"SELECT {_qn(meta.pk.column)} FROM {_qn(meta.db_table)} "  # noqa: S608
        f"WHERE {_qn(meta.get_field('idempotency_key').column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    return row[0] if row else None


# --- The stock row ----------------------------------------------------------------------------

STOCK_READ = ("id", "quantity", "average_cost", "value")
STOCK_WRITE = ("quantity", "value", "average_cost", "updated_at")


@cache
def _stock_sql(vendor: str) -> tuple[str, str, list]:
    meta = Stock._meta
    table = _qn(meta.db_table)
    read = [meta.get_field(name) for name in STOCK_READ]
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = (
        f"SELECT {', '.join(_qn(f.column) for f in read)} FROM {table} "  # noqa: S608
        f"WHERE {_qn(meta.get_field('item').column)} = %s "
        f"AND {_qn(meta.get_field('warehouse').column)} = %s{lock}"
    )
    converters = []
    for field in read:
        col = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        converters.append((col, found))
    write = [meta.get_field(name) for name in STOCK_WRITE]
    update = (
        f"UPDATE {table} SET {', '.join(f'{_qn(f.column)} = %s' for f in write)} "  # noqa: S608
        f"WHERE {_qn(meta.pk.column)} = %s"
    )
    return select, update, converters


def stock_lock(item_id: int, warehouse_id: int) -> Stock | None:
    """The (item, warehouse) stock row, locked until the transaction ends (``SELECT ... FOR
    UPDATE`` on the unique (item, warehouse) index: one equality lookup, no ORDER BY), with
    its id, quantity, average cost and value loaded; None if there is none."""
    if connection.get_autocommit():  # as the ORM's select_for_update() refuses
        raise TransactionManagementError("stock_lock() is only valid in a transaction.")
    select, _update, converters = _stock_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(select, [item_id, warehouse_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for value, (col, found) in zip(row, converters, strict=True):
        for converter in found:
            value = converter(value, col, connection)
        values.append(value)
    stock = Stock.from_db(connection.alias, STOCK_READ, values)
    stock.item_id, stock.warehouse_id = item_id, warehouse_id
    return stock


def stock_write(stock: Stock, *, quantity, value, average_cost, now) -> None:
    """Write a locked stock row's new balance (the check constraints may refuse it:
    ``IntegrityError``)."""
    _select, update, _converters = _stock_sql(connection.vendor)
    meta = Stock._meta
    params = [
        meta.get_field(name).get_db_prep_save(v, connection)
        for name, v in zip(STOCK_WRITE, (quantity, value, average_cost, now), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(update, [*params, stock.pk])


def stock_upsert(item_id: int, warehouse_id: int) -> None:
    """Create the (item, warehouse) stock row if missing and lock it, in one statement.

    ``INSERT ... ON DUPLICATE KEY UPDATE`` takes the row's exclusive lock at once whether it
    inserts or finds the row (a concurrent poster's insert makes it wait, then update).
    ``get_or_create`` and ``INSERT IGNORE`` take a shared lock on a duplicate first and
    deadlock when two postings then ask for the exclusive one.
    """
    meta = Stock._meta
    table = _qn(meta.db_table)
    cols = [
        _qn(meta.get_field(name).column)
        for name in ("item", "warehouse", "quantity", "average_cost", "value", "updated_at")
    ]
    placeholders = ", ".join(["%s"] * len(cols))
    params = [
        item_id,
        warehouse_id,
        ZERO,
        ZERO,
        ZERO,
        meta.get_field("updated_at").get_db_prep_save(timezone.now(), connection),
    ]
    if connection.vendor == "mysql":
        sql = (
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({placeholders}) "  # noqa: S608
            f"ON DUPLICATE KEY UPDATE {cols[0]} = {cols[0]}"
        )
    else:  # SQLite (embedded mode) and PostgreSQL
        sql = (
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({placeholders}) "  # noqa: S608
            f"ON CONFLICT ({cols[0]}, {cols[1]}) DO NOTHING"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
