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
from collections.abc import Iterator, Mapping

from django.db.models import Q

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
_ROW_FIELDS = (
    "id",
    "tag",
    "name",
    "category_id",
    "manufacturer_id",
    "model_id",
    "serial_number",
    "status",
    "holder_id",
    "department_id",
    "location_id",
    "supplier_id",
    "order_number",
    "invoice_number",
    "purchase_date",
    "cost",
    "warranty_end",
    "useful_life_months",
    "residual_rate",
    "notes",
    "custom_fields",
)


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


def _rows(ids: list[int], custom) -> Iterator[list]:
    departments = _tree_labels(Department)
    locations = _tree_labels(Location)
    categories = _tree_labels(Category)
    models = _model_labels()
    manufacturers = dict(Manufacturer.objects.values_list("id", "name"))
    suppliers = dict(Supplier.objects.values_list("id", "name"))
    statuses = {s.value: str(s.label) for s in Status}
    people: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = {r[0]: r for r in Asset.objects.filter(pk__in=chunk).values_list(*_ROW_FIELDS)}
        holders = {r[8] for r in rows.values() if r[8] is not None} - people.keys()
        if holders:
            people.update(
                (pk, (name, number))
                for pk, name, number in Person.objects.filter(Q(pk__in=holders)).values_list(
                    "id", "name", "employee_no"
                )
            )
        for pk in chunk:
            r = rows.get(pk)
            if r is None:  # deleted meanwhile
                continue
            holder = people.get(r[8], ("", "")) if r[8] is not None else ("", "")
            values = r[20] or {}
            yield [
                r[1],
                r[2],
                categories.get(r[3], ""),
                manufacturers.get(r[4], ""),
                models.get(r[5], ""),
                r[6],
                statuses.get(r[7], r[7]),
                holder[0],
                holder[1],
                departments.get(r[9], "") if r[9] else "",
                locations.get(r[10], "") if r[10] else "",
                suppliers.get(r[11], "") if r[11] else "",
                r[12],
                r[13],
                r[14],
                r[15],
                r[16],
                r[17],
                r[18],
                r[19],
                *(
                    custom_display(fields[r[3]], values.get(fields[r[3]].key))
                    if r[3] in fields
                    else None
                    for _label, fields in custom
                ),
            ]


def write_xlsx(header: list[str], rows: Iterator[list], out, *, title: str = "Assets") -> int:
    """Stream rows into an .xlsx in ``out``; text that a spreadsheet would run as a formula
    gets a leading apostrophe (and is a string cell anyway). Returns the row count."""
    widths = [16, 24, 22, 12, 22, 18, 10, 10, 10, 24, 24, 16, 14, 14, 12, 12, 12, 8, 8, 30]
    n = 0
    with XlsxWriter(out, neutralise=True) as book:
        sheet = book.sheet(title, widths=widths + [14] * max(0, len(header) - len(widths)))
        sheet.append(header, styles=[STYLE_BOLD] * len(header))
        for row in rows:
            sheet.append(row)
            n += 1
    return n


def iter_csv(header: list[str], rows: Iterator[list], *, rows_per_chunk: int = 1000):
    """UTF-8 CSV with a BOM (Excel shows Chinese right), yielded in chunks of bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([neutralise(str(h)) for h in header])
    # The rows hold str, None, int, Decimal, date and bool: the csv module writes those as
    # wanted (None as empty); only text needs the formula guard.
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
