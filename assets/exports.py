"""Exporting the asset list (with the list's filters, sort and the user's data scope) as
.xlsx or CSV, in constant memory, in the columns the asset import reads: an export imported
again unchanged changes nothing.

Rows are read by id in chunks (the filtered, sorted ids first: one query, a few MB for
200,000 assets; then ``CHUNK`` rows per query) and references are names from maps loaded
once, so neither the database client nor Python holds the whole result. References are
written as people read them (full paths, names) unless a name is ambiguous, then as the code
or model number the import needs to find them again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.db import connection

from itassets.exports import FORMULA_PREFIXES, neutralise
from itassets.xlsx import STYLE_BOLD, XlsxWriter

from .importers import ASSET_COLUMNS, custom_display
from .importers.refs import TreeIndex
from .lifecycle import Status
from .models import (
    Asset,
    AssetModel,
    Category,
    CustomField,
    Department,
    Location,
    Manufacturer,
    Person,
    Supplier,
)
from .selectors import asset_list

CHUNK = 2000
FORMULA_START = "".join(FORMULA_PREFIXES)
# custom field types whose stored value is not yet the cell (yes/no, decimal, date)
_CONVERTED = (CustomField.Type.BOOLEAN, CustomField.Type.DECIMAL, CustomField.Type.DATE)
_CUSTOM_CACHE = 10_000  # stored JSON texts remembered per category, with their cells
_JSON = json.JSONDecoder()
_RUN = 8  # consecutive ids read as one range


def _tree_labels(model) -> dict[int, str]:
    """id → full path, or the code where two nodes share a full path."""
    index = TreeIndex(model)
    return {
        pk: (node[4] if index.is_ambiguous_path(pk) else node[2])
        for pk, node in index.nodes.items()
    }


def _model_labels() -> dict[int, str]:
    """id → model name, or the model number where a manufacturer has two of that name."""
    rows = list(AssetModel.objects.values_list("id", "manufacturer_id", "name", "model_number"))
    counts: dict[tuple, int] = {}
    for _pk, mfr, name, _number in rows:
        counts[(mfr, name.casefold())] = counts.get((mfr, name.casefold()), 0) + 1
    return {
        pk: (number if counts[(mfr, name.casefold())] > 1 else name)
        for pk, mfr, name, number in rows
    }


def _custom_columns(queryset) -> list[tuple[str, dict[int, CustomField]]]:
    """(label, {category id: field}) for every custom field of the exported categories
    (inherited ones included), one column per label."""
    category_ids = set(queryset.order_by().values_list("category_id", flat=True).distinct())
    if not category_ids:
        return []
    categories = {c.pk: c for c in Category.objects.filter(pk__in=category_ids)}
    ancestor_paths = {
        c.path[:end]
        for c in categories.values()
        for end in range(Category.steplen, len(c.path) + 1, Category.steplen)
    }
    by_category: dict[str, list[CustomField]] = {}
    for field in CustomField.objects.filter(category__path__in=ancestor_paths).select_related(
        "category"
    ):
        by_category.setdefault(field.category.path, []).append(field)
    columns: dict[str, dict[int, CustomField]] = {}
    order: dict[str, tuple] = {}
    for pk, category in categories.items():
        for end in range(Category.steplen, len(category.path) + 1, Category.steplen):
            path = category.path[:end]
            for field in by_category.get(path, ()):
                columns.setdefault(field.label, {})[pk] = field
                order.setdefault(field.label, (end, field.position, field.id))
    return [(label, columns[label]) for label in sorted(columns, key=lambda lab: order[lab])]


def asset_export_rows(*, user, filters: Mapping) -> tuple[list[str], Iterator[list], int]:
    """(header, row iterator, row count) of the assets ``user`` sees with ``filters`` (the
    list's cleaned filters and sort)."""
    queryset = asset_list(user=user, filters=filters)
    ids = list(queryset.values_list("id", flat=True))
    custom = _custom_columns(queryset) if ids else []
    header = [str(c.label) for c in ASSET_COLUMNS] + [label for label, _f in custom]
    return header, _rows(ids, custom), len(ids)


class _CustomCells:
    """The custom-field cells of one category's assets: each column's stored key (None where
    the category has no such field) and the fields whose values need ``custom_display``;
    cells are kept per stored JSON text (assets of a model usually share them)."""

    __slots__ = ("cache", "converted", "keys", "width")

    def __init__(self, category_id: int, custom):
        fields = [fields.get(category_id) for _label, fields in custom]
        self.keys = [f.key if f is not None else None for f in fields]
        self.converted = [
            (i, f) for i, f in enumerate(fields) if f is not None and f.field_type in _CONVERTED
        ]
        self.width = len(fields)
        self.cache: dict[str, list] = {}

    def cells(self, values) -> list:
        """The cells for ``custom_fields`` as stored (JSON text, or a dict from the ORM)."""
        if values.__class__ is str:
            cells = self.cache.get(values)
            if cells is not None:
                return cells
            text, values = values, _json_object(values)
        else:
            text = None
        if not values:
            cells = [None] * self.width
        else:
            cells = list(map(values.get, self.keys))
            for i, field in self.converted:
                cells[i] = custom_display(field, cells[i])
        if text is not None and len(self.cache) < _CUSTOM_CACHE:
            self.cache[text] = cells
        return cells


def _json_object(text: str):
    try:
        return _JSON.raw_decode(text)[0]
    except ValueError:  # leading white space, or not JSON at all
        return json.loads(text)


def _rows(ids: list[int], custom) -> Iterator[list]:
    departments = _tree_labels(Department).get
    locations = _tree_labels(Location).get
    categories = _tree_labels(Category).get
    models = _model_labels().get
    manufacturers = dict(Manufacturer.objects.values_list("id", "name")).get
    suppliers = dict(Supplier.objects.values_list("id", "name")).get
    statuses = {s.value: str(s.label) for s in Status}.get
    plans: dict[int | None, _CustomCells] = {}
    for chunk in _asset_chunks(ids, custom=bool(custom)):
        for (
            _pk,
            tag,
            name,
            category,
            manufacturer,
            model,
            serial,
            status,
            holder_name,
            holder_number,
            department,
            location,
            supplier,
            order_number,
            invoice_number,
            purchased,
            cost,
            warranty_end,
            life,
            residual,
            notes,
            values,
        ) in chunk:
            row = [
                tag,
                name,
                categories(category, ""),
                manufacturers(manufacturer, ""),
                models(model, ""),
                serial,
                statuses(status, status),
                holder_name or "",
                holder_number or "",
                departments(department, ""),
                locations(location, ""),
                suppliers(supplier, ""),
                order_number,
                invoice_number,
                purchased,
                cost,
                warranty_end,
                life,
                residual,
                notes,
            ]
            if custom:
                plan = plans.get(category)
                if plan is None:
                    plan = plans[category] = _CustomCells(category, custom)
                row += plan.cells(values or {})
            yield row


def _asset_chunks(
    ids: list[int], *, custom: bool, pipelined: bool | None = None
) -> Iterator[list[tuple]]:
    """The export's columns (``_COLUMNS``, then ``custom_fields`` or None) of the assets
    ``ids``, ``CHUNK`` at a time, in the order of ``ids`` (deleted ones left out).

    On MySQL/MariaDB (``pipelined``) one plain SELECT per chunk (the ids are our own
    integers, written into the statement) is sent before the previous chunk's rows are
    handed out, so the server reads the next chunk while this process writes the current
    one; ``custom_fields`` comes as its JSON text. Elsewhere the ORM, with the same values.
    """
    if pipelined is None:
        pipelined = connection.vendor == "mysql"
    chunks = [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]
    if pipelined:
        batches = _mysql_pipelined([_chunk_sql(chunk, custom=custom) for chunk in chunks])
    else:
        batches = (_orm_chunk(chunk, custom=custom) for chunk in chunks)
    for chunk, rows in zip(chunks, batches, strict=True):
        by_id = {row[0]: row for row in rows}
        yield list(filter(None, map(by_id.get, chunk)))


# (field path, SQL column): the row a chunk query reads, id first
_COLUMNS = (
    ("id", "a.id"),
    ("tag", "a.tag"),
    ("name", "a.name"),
    ("category_id", "a.category_id"),
    ("manufacturer_id", "a.manufacturer_id"),
    ("model_id", "a.model_id"),
    ("serial_number", "a.serial_number"),
    ("status", "a.status"),
    ("holder__name", "p.name"),
    ("holder__employee_no", "p.employee_no"),
    ("department_id", "a.department_id"),
    ("location_id", "a.location_id"),
    ("supplier_id", "a.supplier_id"),
    ("order_number", "a.order_number"),
    ("invoice_number", "a.invoice_number"),
    ("purchase_date", "a.purchase_date"),
    ("cost", "a.cost"),
    ("warranty_end", "a.warranty_end"),
    ("useful_life_months", "a.useful_life_months"),
    ("residual_rate", "a.residual_rate"),
    ("notes", "a.notes"),
)


def _chunk_sql(chunk: list[int], *, custom: bool) -> str:
    columns = ", ".join(column for _path, column in _COLUMNS)
    columns += ", a.custom_fields" if custom else ", NULL"
    qn = connection.ops.quote_name
    return (
        f"SELECT {columns} FROM {qn(Asset._meta.db_table)} a "  # noqa: S608 (constants, ints)
        f"LEFT JOIN {qn(Person._meta.db_table)} p ON p.id = a.holder_id WHERE {_id_ranges(chunk)}"
    )


def _id_ranges(ids: list[int]) -> str:
    """``a.id`` in ``ids`` as SQL: runs of consecutive ids (a whole register in id order is
    one run per chunk) as BETWEEN, which the server reads as one range instead of a lookup
    per id; the rest as an IN list. Integers only: nothing to quote."""
    ordered = sorted(map(int, ids))
    ranges: list[str] = []
    single: list[int] = []
    first = last = ordered[0]
    for pk in [*ordered[1:], None]:
        if pk == last + 1:
            last = pk
            continue
        if last - first + 1 >= _RUN:
            ranges.append(f"a.id BETWEEN {first} AND {last}")
        else:
            single.extend(range(first, last + 1))
        if pk is not None:
            first = last = pk
    if single:
        ranges.append(f"a.id IN ({','.join(map(str, single))})")
    return " OR ".join(ranges)


def _orm_chunk(chunk: list[int], *, custom: bool) -> list[tuple]:
    paths = [path for path, _column in _COLUMNS]
    if not custom:
        return [(*row, None) for row in Asset.objects.filter(pk__in=chunk).values_list(*paths)]
    return list(Asset.objects.filter(pk__in=chunk).values_list(*paths, "custom_fields"))


class _Dates(dict):
    """DATE text → date, converted once each (a register holds a few thousand dates)."""

    def __init__(self, convert):
        super().__init__()
        self.convert = convert

    def __missing__(self, text: str):
        value = self.convert(text)
        if len(self) < 100_000:
            self[text] = value
        return value


def _mysql_pipelined(queries: list[str]) -> Iterator[tuple[tuple, ...]]:
    """The rows of each query, converted as the ORM's MySQL cursor converts them (dates,
    decimals; JSON stays text), dates through a cache. Each next query is sent before the
    current rows are handed out, on the same connection (so inside a transaction too); if
    the caller stops early, the query in flight is read and dropped (``write_xlsx`` and
    ``iter_csv`` close the rows they were given, so this happens before anything else can
    use the connection)."""
    from MySQLdb.constants import FIELD_TYPE

    connection.ensure_connection()
    db = connection.connection
    ours = dict(db.converter)
    ours[FIELD_TYPE.DATE] = _Dates(ours[FIELD_TYPE.DATE]).__getitem__
    sent = False  # a query whose result is not read yet
    try:
        for n, query in enumerate(queries):
            if n == 0:
                db.send_query(query)
            sent = False
            db.read_query_result()
            theirs, db.converter = db.converter, ours  # read by store_result only
            try:
                result = db.store_result()
            finally:
                db.converter = theirs
            if n + 1 < len(queries):
                db.send_query(queries[n + 1])
                sent = True
            yield result.fetch_row(0)
    finally:
        if sent:
            try:
                db.read_query_result()
                db.store_result()
            except Exception:
                connection.close()  # out of step: the next use opens a new connection


def write_xlsx(header: list[str], rows: Iterator[list], out, *, title: str = "Assets") -> int:
    """Stream rows into an .xlsx in ``out``; text that a spreadsheet would run as a formula
    gets a leading apostrophe (and is a string cell anyway). Returns the row count."""
    widths = [16, 24, 22, 12, 22, 18, 10, 10, 10, 24, 24, 16, 14, 14, 12, 12, 12, 8, 8, 30]
    n = 0
    with _closing(rows), XlsxWriter(out, neutralise=True, share_repeated=True) as book:
        sheet = book.sheet(title, widths=widths + [14] * max(0, len(header) - len(widths)))
        sheet.append(header, styles=[STYLE_BOLD] * len(header))
        for row in rows:
            sheet.append(row)
            n += 1
    return n


@contextmanager
def _closing(rows: Iterator):
    """Close a row generator when done or failed, not whenever it is collected: it may hold
    a query in flight on the connection (``_mysql_pipelined``)."""
    try:
        yield rows
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def iter_csv(header: list[str], rows: Iterator[list], *, rows_per_chunk: int = 1000):
    """UTF-8 CSV with a BOM (Excel shows Chinese right), yielded in chunks of bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([neutralise(str(h)) for h in header])
    # The rows hold str, None, int, Decimal, date and bool: the csv module writes those as
    # wanted (None as empty); only text needs the formula guard.
    with _closing(rows):
        for n, row in enumerate(rows, start=1):
            writer.writerow(
                ["'" + v if v.__class__ is str and v and v[0] in FORMULA_START else v for v in row]
            )
            if n % rows_per_chunk == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode("utf-8")


def asset_export_write(*, user, filters: Mapping, fmt: str, out) -> int:
    """Write the export as ``fmt`` ("xlsx" or "csv") to the binary file ``out``; returns the
    number of assets."""
    header, rows, count = asset_export_rows(user=user, filters=filters)
    if fmt == "xlsx":
        write_xlsx(header, rows, out)
    elif fmt == "csv":
        for chunk in iter_csv(header, rows):
            out.write(chunk)
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return count


# --- Background exports -----------------------------------------------------------------------


def asset_export_filters(*, query: str) -> dict:
    """The list's cleaned filters and sort from its query string (as the list view parses
    them: ``AssetFilterSet`` and ``asset_list_order``)."""
    from django.http import QueryDict

    from .filters import AssetFilterSet
    from .selectors import asset_filter_trees, asset_list_order

    params = QueryDict(query)
    filters = AssetFilterSet(params, trees=asset_filter_trees()).cleaned_filters
    sort_key, _order = asset_list_order(params.get("sort"))
    return {**filters, "sort": sort_key}


def asset_export_job_create(*, actor, fmt: str, query: str):
    """Queue a background export (too many rows for one request); returns the job."""
    from django.db import transaction

    from itassets.models import ExportJob

    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"unknown export format {fmt!r}")
    with transaction.atomic():
        job = ExportJob.objects.create(kind="assets", fmt=fmt, query=query, created_by=actor)
        from .tasks import asset_export_task

        transaction.on_commit(lambda: asset_export_task.delay(job.pk))
    return job


def asset_export_job_run(*, job_id: int):
    """Write a queued export to the default storage (private) and mark it done."""
    import logging
    import tempfile

    from django.core.files import File
    from django.utils import timezone

    from itassets.models import ExportJob

    job = ExportJob.objects.filter(pk=job_id).select_related("created_by").first()
    if job is None or job.state != ExportJob.State.PENDING:
        return job
    ExportJob.objects.filter(pk=job_id).update(state=ExportJob.State.RUNNING)
    try:
        with tempfile.TemporaryFile() as out:
            job.rows = asset_export_write(
                user=job.created_by,
                filters=asset_export_filters(query=job.query),
                fmt=job.fmt,
                out=out,
            )
            out.seek(0)
            job.file.save(f"assets.{job.fmt}", File(out), save=False)
        job.state = ExportJob.State.DONE
    except Exception:
        logging.getLogger(__name__).exception("export job %s failed", job_id)
        job.state = ExportJob.State.FAILED
    job.finished_at = timezone.now()
    job.save()
    return job
