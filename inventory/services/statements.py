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

Only inserts of new rows, the stock row's lock and its update, two lookups by unique
index (the idempotency key, a warehouse's keeper), a scan's one read (``scan_read``), a
new posted document's writes as one MariaDB compound statement (``post_new``) and a one-line
issue locked, valued, written and committed by one such statement (``post_issue``) live here;
the rules (what is locked, in which order, what may be written) stay in ``documents.py``.
Model ``save()`` methods and signals are not involved: the guards of ``Document.save`` /
``DocumentLine.save`` refuse writes to posted documents, and these statements write only the
posting's own new rows and the stock rows it has locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from django.db import connection, models
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from assets.models import Department, Location, Person
from assets.services.register import sequence_names

from ..models import Document, DocumentLine, Item, LedgerEntry, Stock, Warehouse

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


# --- Reading rows as a queryset does ----------------------------------------------------------


@cache
def _reader(model: type[models.Model], vendor: str) -> tuple[list[str], list[str], list]:
    """A model's concrete columns, their attribute names and each column's converters."""
    meta = model._meta
    fields = list(meta.concrete_fields)
    converters = []
    for field in fields:
        col = field.get_col(meta.db_table)
        converters.append(
            (col, connection.ops.get_db_converters(col) + field.get_db_converters(connection))
        )
    return [f.column for f in fields], [f.attname for f in fields], converters


def _convert(values, converters) -> list:
    out = []
    for value, (col, found) in zip(values, converters, strict=True):
        for converter in found:
            value = converter(value, col, connection)
        out.append(value)
    return out


def _load(model: type[models.Model], values) -> models.Model | None:
    """The instance ``queryset.get()`` makes of these column values (None: no row joined)."""
    if values[0] is None:  # the primary key, first of the concrete fields
        return None
    _columns, attnames, converters = _reader(model, connection.vendor)
    return model.from_db(connection.alias, attnames, _convert(values, converters))


@dataclass
class ScanRead:
    """What a scan's validation and lock-free check need, read in one statement: the
    warehouse (with its location), the item, the person (with their department), whether the
    actor keeps the warehouse, the stock row's quantity (None: no row), and the document
    already holding the idempotency key (its id, or None). Unknown ids give None."""

    warehouse: Warehouse | None
    item: Item | None
    person: Person | None
    keeps: bool
    on_hand: Decimal | None
    existing_id: int | None


_SCAN_MODELS = (Warehouse, Location, Item, Person, Department)


@cache
def _scan_sql(vendor: str) -> str:
    tables = {m: _qn(f"t{n}") for n, m in enumerate(_SCAN_MODELS)}
    select = []
    for model, alias in tables.items():
        columns, _attnames, _converters = _reader(model, vendor)
        select += [f"{alias}.{_qn(c)}" for c in columns]

    def col(model, name):
        return f"{tables[model]}.{_qn(model._meta.get_field(name).column)}"

    def pk(model):
        return f"{tables[model]}.{_qn(model._meta.pk.column)}"

    keepers = Warehouse.keepers.through._meta
    k_wh, k_user = (_qn(keepers.get_field(n).column) for n in ("warehouse", "user"))
    stock, doc = Stock._meta, Document._meta
    item_table, item_pk = _qn(Item._meta.db_table), _qn(Item._meta.pk.column)
    by_barcode, by_code = (
        f"(SELECT {item_pk} FROM {item_table} "  # noqa: S608
        f"WHERE {_qn(Item._meta.get_field(n).column)} = %s)"
        for n in ("barcode", "code")
    )
    select += [
        f"{_qn('k')}.{k_user}",
        f"{_qn('s')}.{_qn(stock.get_field('quantity').column)}",
        f"{_qn('d')}.{_qn(doc.pk.column)}",
    ]
    return (
        f"SELECT {', '.join(select)} FROM (SELECT 1 AS {_qn('one')}) {_qn('q')} "  # noqa: S608
        f"LEFT JOIN {_qn(Warehouse._meta.db_table)} {tables[Warehouse]} "
        f"ON {pk(Warehouse)} = %s "
        f"LEFT JOIN {_qn(Location._meta.db_table)} {tables[Location]} "
        f"ON {pk(Location)} = {col(Warehouse, 'location')} "
        f"LEFT JOIN {item_table} {tables[Item]} "
        f"ON {pk(Item)} = COALESCE(%s, {by_barcode}, {by_code}) "
        f"LEFT JOIN {_qn(Person._meta.db_table)} {tables[Person]} ON {pk(Person)} = %s "
        f"LEFT JOIN {_qn(Department._meta.db_table)} {tables[Department]} "
        f"ON {pk(Department)} = {col(Person, 'department')} "
        f"LEFT JOIN {_qn(keepers.db_table)} {_qn('k')} "
        f"ON {_qn('k')}.{k_wh} = {pk(Warehouse)} AND {_qn('k')}.{k_user} = %s "
        f"LEFT JOIN {_qn(stock.db_table)} {_qn('s')} "
        f"ON {_qn('s')}.{_qn(stock.get_field('item').column)} = {pk(Item)} "
        f"AND {_qn('s')}.{_qn(stock.get_field('warehouse').column)} = {pk(Warehouse)} "
        f"LEFT JOIN {_qn(doc.db_table)} {_qn('d')} "
        f"ON {_qn('d')}.{_qn(doc.get_field('idempotency_key').column)} = %s"
    )


def scan_read(
    *,
    warehouse_id: int,
    item_id: int | None,
    code: str | None,
    person_id: int | None,
    user_id: int,
    key: str | None,
) -> ScanRead:
    """Everything a one-line scan's checks read, in one statement (one consistent snapshot):
    the item by id, or else by barcode, or else by code (as ``validation._lookup_items``)."""
    sql = _scan_sql(connection.vendor)
    code = code or None
    with connection.cursor() as cursor:
        cursor.execute(sql, [warehouse_id, item_id, code, code, person_id, user_id, key])
        row = cursor.fetchone()
    loaded = {}
    start = 0
    for model in _SCAN_MODELS:
        width = len(_reader(model, connection.vendor)[0])
        loaded[model] = _load(model, row[start : start + width])
        start += width
    keeper, on_hand, existing_id = row[start:]
    warehouse, person = loaded[Warehouse], loaded[Person]
    if warehouse is not None:
        warehouse._state.fields_cache["location"] = loaded[Location]
    if person is not None and person.department_id is not None:
        person._state.fields_cache["department"] = loaded[Department]
    if on_hand is not None:
        _columns, attnames, converters = _reader(Stock, connection.vendor)
        on_hand = _convert([on_hand], [converters[attnames.index("quantity")]])[0]
    return ScanRead(
        warehouse=warehouse,
        item=loaded[Item],
        person=person,
        keeps=keeper is not None,
        on_hand=on_hand,
        existing_id=existing_id,
    )


# --- A new posted document's writes in one statement (MariaDB) --------------------------------


def writes_in_one_statement() -> bool:
    """Whether ``post_new`` can send a posting's writes as one statement: MariaDB runs an
    anonymous compound statement (``BEGIN NOT ATOMIC ... END``); elsewhere the writes are sent
    one by one (``insert``, ``stock_write``, ``common.number_allocate``)."""
    return connection.vendor == "mysql" and connection.mysql_is_mariadb


def commits_in_one_statement() -> bool:
    """Whether a hot path may send one compound statement that opens and commits its own
    transaction (``OWN_TRANSACTION``): on MariaDB, with no transaction open on the connection
    (never inside a caller's ``atomic``, whose commit is the caller's)."""
    return writes_in_one_statement() and connection.get_autocommit()


# Ends the declarations of a compound statement that owns its transaction: any error rolls
# back what the statement did before it is raised, so the connection is never left inside a
# transaction; then the transaction starts. The statement ends it with COMMIT or ROLLBACK.
OWN_TRANSACTION = (
    "DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END; START TRANSACTION;"
)


@cache
def _insert_parts(model: type[models.Model], vendor: str) -> tuple[str, list, list[str]]:
    """``INSERT INTO t (cols) VALUES ``, the fields, and each field's placeholder."""
    head, _row_sql, fields, _returning = _insert_sql(model, vendor)
    return head, fields, ["%s"] * len(fields)


# Field types whose ``get_db_prep_save`` answers a value of this exact Python type (or None)
# unchanged: such values skip the call (most of a posting's row is ids, flags and text).
_AS_IS = {
    "AutoField": int,
    "BigAutoField": int,
    "BigIntegerField": int,
    "BooleanField": bool,
    "CharField": str,
    "IntegerField": int,
    "PositiveBigIntegerField": int,
    "PositiveIntegerField": int,
    "PositiveSmallIntegerField": int,
    "SmallIntegerField": int,
    "TextField": str,
}


# Field types whose ``get_db_prep_save`` answers None as None.
_NONE_AS_IS = {*_AS_IS, "DateField", "DateTimeField", "DecimalField"}


@cache
def _preparers(model: type[models.Model], vendor: str) -> list[tuple]:
    """Per field of ``_insert_parts``: (field, attname, type sent as is or None, whether None
    is sent as is, whether ``pre_save`` must run: auto_now / auto_now_add fields)."""
    _head, fields, _marks = _insert_parts(model, vendor)
    out = []
    for field in fields:
        internal = (field.target_field if field.is_relation else field).get_internal_type()
        custom_pre_save = type(field).pre_save is not models.Field.pre_save
        out.append(
            (field, field.attname, _AS_IS.get(internal), internal in _NONE_AS_IS, custom_pre_save)
        )
    return out


def _values(obj: models.Model, fields: list, marks: list[str], **exprs) -> tuple[str, list]:
    """One row's ``(…)`` and its parameters, with ``exprs`` (attname → ``(sql, params)``) in
    place of those fields' values; each value as ``field.get_db_prep_save`` prepares it
    (``Model.save``'s way), called only where it could change the value."""
    sql, params = [], []
    preparers = _preparers(type(obj), connection.vendor)
    for prepare, mark in zip(preparers, marks, strict=True):
        field, attname, plain, none_as_is, custom_pre_save = prepare
        expr = exprs.get(attname)
        if expr is not None:
            sql.append(expr[0])
            params += expr[1]
            continue
        sql.append(mark)
        value = field.pre_save(obj, True) if custom_pre_save else getattr(obj, attname)
        if (value is None and none_as_is) or (plain is not None and type(value) is plain):
            params.append(value)
        else:
            params.append(field.get_db_prep_save(value, connection))
    return f"({', '.join(sql)})", params


def _numbered_document(document: Document, series: str, sql: list, params: list) -> None:
    """Add to a compound statement: advance the ``series`` sequence into ``v_n`` and insert
    the document numbered from it (as ``number_format`` numbers it: the prefix and at least
    four digits) with its id into ``v_doc``."""
    seq_table, seq_prefix, seq_last = sequence_names()
    sql.append(
        f"INSERT INTO {seq_table} ({seq_prefix}, {seq_last}) VALUES (%s, 1) "  # noqa: S608
        f"ON DUPLICATE KEY UPDATE {seq_last} = {seq_last} + 1; "
        f"SELECT {seq_last} INTO v_n FROM {seq_table} WHERE {seq_prefix} = %s;"
    )
    params += [series, series]
    head, fields, marks = _insert_parts(Document, connection.vendor)
    row, row_params = _values(
        document,
        fields,
        marks,
        number=("CONCAT(%s, LPAD(v_n, GREATEST(4, CHAR_LENGTH(v_n)), '0'))", [series]),
    )
    sql.append(f"{head}{row}; SET v_doc = LAST_INSERT_ID();")
    params += row_params


def _saved(obj: models.Model, pk) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias


def post_new(
    document: Document,
    lines: Sequence[DocumentLine],
    entries: Sequence[LedgerEntry],
    stocks: Sequence[tuple[Stock, dict]],
    *,
    series: str,
    commit: bool = False,
) -> int:
    """Write a new posted document in one statement (MariaDB), in the order the separate
    statements would run: advance the ``series`` sequence (its row stays locked until the
    transaction ends, as ``common.number_allocate``), insert the document numbered from it,
    its lines, the ledger entries (``entry.line`` one of ``lines``) and update the locked
    ``stocks`` rows (``(stock, {field: value})``). Sets the ids on the objects and returns
    the sequence's new value (the caller formats the number, as the statement does).

    The statement stops at the first error and raises it (a duplicate idempotency key, a
    check constraint: ``IntegrityError``); the caller's transaction then rolls back.

    ``commit``: the transaction is the outermost one and holds nothing but this posting; the
    statement ends it with ``COMMIT`` once everything is written, so the locked rows are
    released one round trip earlier. Django's own commit, when the caller's ``atomic`` block
    exits, then finds nothing left to commit and runs the on-commit hooks as usual.
    """
    n_lines = len(lines)
    sql = ["BEGIN NOT ATOMIC DECLARE v_n BIGINT; DECLARE v_doc BIGINT;"]
    sql += [f"DECLARE v_line{i} BIGINT;" for i in range(n_lines)]
    params: list = []
    _numbered_document(document, series, sql, params)
    head, fields, marks = _insert_parts(DocumentLine, connection.vendor)
    position = {}
    for i, line in enumerate(lines):
        position[id(line)] = i
        row, row_params = _values(line, fields, marks, document_id=("v_doc", []))
        sql.append(f"{head}{row}; SET v_line{i} = LAST_INSERT_ID();")
        params += row_params
    if entries:
        head, fields, marks = _insert_parts(LedgerEntry, connection.vendor)
        rows = []
        for entry in entries:
            line_var = f"v_line{position[id(entry.line)]}"
            row, row_params = _values(
                entry, fields, marks, document_id=("v_doc", []), line_id=(line_var, [])
            )
            rows.append(row)
            params += row_params
        sql.append(f"{head}{', '.join(rows)};")
    _select, update, _converters = _stock_sql(connection.vendor)
    meta = Stock._meta
    for stock, values in stocks:
        sql.append(f"{update};")
        params += [
            meta.get_field(name).get_db_prep_save(values[name], connection) for name in STOCK_WRITE
        ]
        params.append(stock.pk)
    if commit:
        sql.append("COMMIT;")
    sql.append(f"SELECT v_n, v_doc{''.join(f', v_line{i}' for i in range(n_lines))}; END")
    with connection.cursor() as cursor:
        cursor.execute(" ".join(sql), params)
        result = cursor.fetchone()
    for obj, pk in [(document, result[1]), *zip(lines, result[2:], strict=True)]:
        _saved(obj, pk)
    for entry in entries:
        entry.document_id, entry.line_id = document.pk, entry.line.pk
        _saved(entry, None)
    return int(result[0])


@dataclass
class IssueWrite:
    """What ``post_issue`` found under the stock row's lock and wrote: the row's id (None: no
    row), its quantity, value and average cost before the issue (None without a row), the
    value taken (None: refused, nothing written) and the sequence's new value."""

    stock_id: int | None
    quantity: Decimal | None
    value: Decimal | None
    average: Decimal | None
    taken: Decimal | None
    sequence: int | None


def _declare(name: str, model: type[models.Model], field: str) -> str:
    return f"DECLARE {name} {model._meta.get_field(field).db_type(connection)};"


def post_issue(
    document: Document, line: DocumentLine, entry: LedgerEntry, *, series: str, now
) -> IssueWrite:
    """Post a new one-line issue document (MariaDB, outside any open transaction) in one
    statement that opens and ends its own transaction: lock the (item, warehouse) stock row,
    refuse (roll back, write nothing) if it holds less than the line's quantity, else take
    the quantity at the row's average cost as ``documents._Balance.take`` does (the value
    rounded half up to the cent, never more than the value held, all of it when the balance
    reaches zero), number and insert the document, its line, the ledger entry, update the
    stock row and commit. Any error rolls back before it is raised (exit handler): no
    transaction is left open. The row stays locked only while the database runs the
    statement, not while this process computes between two round trips.

    The line's unit cost and amount and the entry's balance, cost and values are written by
    the statement; the caller sets them on the objects from the answer."""
    stock_meta = Stock._meta
    stock_table = _qn(stock_meta.db_table)
    qty, value, average, updated = (
        _qn(stock_meta.get_field(n).column)
        for n in ("quantity", "value", "average_cost", "updated_at")
    )
    sql = [
        "BEGIN NOT ATOMIC DECLARE v_id BIGINT; DECLARE v_n BIGINT; DECLARE v_doc BIGINT; "
        "DECLARE v_line BIGINT;",
        _declare("v_req", Stock, "quantity"),
        _declare("v_q", Stock, "quantity"),
        _declare("v_v", Stock, "value"),
        _declare("v_a", Stock, "average_cost"),
        _declare("v_taken", Stock, "value"),
        "DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_id = NULL;",
        OWN_TRANSACTION,
        # Typed: the quantity arrives as text and must be exact decimal arithmetic.
        "SET v_req = %s; "  # noqa: S608 (names)
        f"SELECT {_qn(stock_meta.pk.column)}, {qty}, {value}, {average} "
        f"INTO v_id, v_q, v_v, v_a FROM {stock_table} "
        f"WHERE {_qn(stock_meta.get_field('item').column)} = %s "
        f"AND {_qn(stock_meta.get_field('warehouse').column)} = %s FOR UPDATE; "
        "IF v_id IS NULL OR v_q < v_req THEN ROLLBACK; ELSE "
        "SET v_taken = IF(v_req >= v_q, v_v, LEAST(ROUND(v_req * v_a, 2), v_v));",
    ]
    params: list = [
        stock_meta.get_field("quantity").get_db_prep_save(line.quantity, connection),
        line.item_id,
        line.warehouse_id,
    ]
    _numbered_document(document, series, sql, params)
    head, fields, marks = _insert_parts(DocumentLine, connection.vendor)
    row, row_params = _values(
        line,
        fields,
        marks,
        document_id=("v_doc", []),
        unit_cost=("v_a", []),
        amount=("v_taken", []),
    )
    sql.append(f"{head}{row}; SET v_line = LAST_INSERT_ID();")
    params += row_params
    head, fields, marks = _insert_parts(LedgerEntry, connection.vendor)
    row, row_params = _values(
        entry,
        fields,
        marks,
        document_id=("v_doc", []),
        line_id=("v_line", []),
        quantity=("-v_req", []),
        balance_after=("v_q - v_req", []),
        unit_cost=("v_a", []),
        value_change=("-v_taken", []),
        value_after=("v_v - v_taken", []),
    )
    sql.append(f"{head}{row};")
    params += row_params
    sql.append(
        f"UPDATE {stock_table} SET {qty} = v_q - v_req, {value} = v_v - v_taken, "  # noqa: S608
        f"{updated} = %s WHERE {_qn(stock_meta.pk.column)} = v_id; COMMIT; END IF; "
        "SELECT v_id, v_q, v_v, v_a, v_taken, v_n, v_doc, v_line; END"
    )
    params.append(stock_meta.get_field("updated_at").get_db_prep_save(now, connection))
    with connection.cursor() as cursor:
        cursor.execute(" ".join(sql), params)
        stock_id, quantity, held, cost, taken, sequence, doc_id, line_id = cursor.fetchone()
    if taken is None:  # refused: set only once the check passed
        return IssueWrite(stock_id, quantity, held, cost, None, None)
    _saved(document, doc_id)
    _saved(line, line_id)
    entry.document_id, entry.line_id = doc_id, line_id
    _saved(entry, None)
    return IssueWrite(stock_id, quantity, held, cost, taken, int(sequence))
