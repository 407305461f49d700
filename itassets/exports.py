"""Tabular exports (CSV and Excel), written once and used by admin actions of every app.

Both writers neutralise spreadsheet formula injection: a text cell that starts with ``=``,
``+``, ``-``, ``@``, tab or carriage return is written with a leading apostrophe, so Excel,
WPS and LibreOffice show it as text instead of evaluating it. CSV starts with a UTF-8 BOM so
Excel on Chinese Windows opens it as UTF-8. XLSX is streamed with openpyxl's write-only mode.

``ExportActionsMixin`` adds the two admin actions; a ModelAdmin lists its columns in
``export_fields`` (field names, ``relation__field`` paths, or ``(header, callable)`` pairs).
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ITERATOR_CHUNK = 2000


def neutralise(value):
    """A text that a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _plain(value):
    """Python values as a spreadsheet cell: local naive datetimes, text for everything odd."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None)
    if isinstance(value, bool | int | float | Decimal | date):
        return value
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return str(value)


def rows_to_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """UTF-8 CSV with a BOM; formula-like text neutralised."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([neutralise(str(h)) for h in header])
    for row in rows:
        writer.writerow([neutralise(v) if isinstance(v, str) else v for v in map(_plain, row)])
    return out.getvalue().encode("utf-8")


def rows_to_xlsx(header: Sequence[str], rows: Iterable[Sequence], *, title: str = "") -> bytes:
    """An .xlsx workbook (one sheet, write-only); every text cell is stored as a string."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=_sheet_title(title))
    bold = Font(bold=True)

    def cell(value, *, header=False):
        value = _plain(value)
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", neutralise(value))
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # never a formula, whatever the text starts with
        if header:
            c.font = bold
        return c

    ws.append([cell(str(h), header=True) for h in header])
    for row in rows:
        ws.append([cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    cleaned = "".join(ch for ch in str(title) if ch not in "[]:*?/\\")[:31]
    return cleaned or "Sheet1"


def export_response(
    *, header: Sequence[str], rows: Iterable[Sequence], fmt: str, basename: str, title: str = ""
) -> HttpResponse:
    """An attachment download of ``rows`` as ``csv`` or ``xlsx``."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        body, content_type = rows_to_csv(header, rows), CSV_CONTENT_TYPE
    elif fmt == "xlsx":
        body, content_type = rows_to_xlsx(header, rows, title=title), XLSX_CONTENT_TYPE
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, f"{basename}-{stamp}.{fmt}")
    return response


# --- Admin ----------------------------------------------------------------------------------


Column = str | tuple[str, Callable[[Model], object]]


def _field_header(model, path: str) -> str:
    """The verbose name of ``relation__field`` (the last field's, capitalised)."""
    opts = model._meta
    field = None
    for part in path.split("__"):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return path
        if field.is_relation and field.related_model is not None:
            opts = field.related_model._meta
    return capfirst(str(getattr(field, "verbose_name", path)))


def _field_value(obj, path: str):
    value = obj
    for part in path.split("__"):
        if value is None:
            return None
        field = None
        with contextlib.suppress(FieldDoesNotExist, AttributeError):
            field = value._meta.get_field(part)
        if field is not None and getattr(field, "choices", None) and not field.is_relation:
            value = getattr(value, f"get_{part}_display")()
        else:
            value = getattr(value, part)
        if callable(value) and not isinstance(value, Model):
            value = value()
    return value


def export_table(model, columns: Sequence[Column], queryset: QuerySet):
    """(header, row iterator) for ``columns`` over ``queryset`` (read in chunks)."""
    header, getters = [], []
    for column in columns:
        if isinstance(column, tuple):
            label, getter = column
            header.append(str(label))
            getters.append(getter)
        else:
            header.append(_field_header(model, column))
            getters.append(lambda obj, path=column: _field_value(obj, path))
    rows = ([g(obj) for g in getters] for obj in queryset.iterator(chunk_size=ITERATOR_CHUNK))
    return header, rows


class ExportActionsMixin:
    """Adds "Export as CSV" / "Export as Excel" to a ModelAdmin's actions.

    ``export_fields``: the columns; ``export_select_related``: relations to join (defaults to
    ``list_select_related``). ``export_queryset(request, queryset)`` may widen the selection
    (trees export the selected nodes with their subtrees).
    """

    export_fields: Sequence[Column] = ()
    export_select_related: Sequence[str] | None = None
    actions = ["export_csv", "export_xlsx"]

    def export_queryset(self, request, queryset):
        return queryset

    def _export(self, request, queryset, fmt: str) -> HttpResponse:
        queryset = self.export_queryset(request, queryset)
        related = self.export_select_related
        if related is None:
            related = (
                self.list_select_related
                if isinstance(self.list_select_related, list | tuple)
                else ()
            )
        if related:
            queryset = queryset.select_related(*related)
        opts = self.model._meta
        header, rows = export_table(self.model, self.export_fields, queryset)
        return export_response(
            header=header,
            rows=rows,
            fmt=fmt,
            basename=opts.model_name,
            title=str(capfirst(opts.verbose_name_plural)),
        )

    @admin.action(description=_("Export as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return self._export(request, queryset, "csv")

    @admin.action(description=_("Export as Excel"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        return self._export(request, queryset, "xlsx")
