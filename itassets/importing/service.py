"""The one import service: the management commands and the web page's Celery task call
:func:`import_file`; the error workbook and templates are built here too."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .base import Importer, ImportResult, Row, Timer, gc_paused
from .reader import HEADER_SCAN_ROWS, ReadError, find_header, open_table
from .writer import StreamWriter, stream_writes_possible

logger = logging.getLogger(__name__)

# kind → (label, importer class path). Inventory's items live in itassets.importing.items
# until the inventory app takes them over (it may not import this package's users).
KINDS: dict[str, tuple] = {
    "assets": (gettext_lazy("Assets"), "assets.importers.AssetImporter"),
    "people": (gettext_lazy("People"), "assets.importers.PersonImporter"),
    "departments": (gettext_lazy("Departments"), "assets.importers.DepartmentImporter"),
    "locations": (gettext_lazy("Locations"), "assets.importers.LocationImporter"),
    "categories": (gettext_lazy("Categories"), "assets.importers.CategoryImporter"),
    "models": (gettext_lazy("Asset models"), "assets.importers.ModelImporter"),
    "items": (gettext_lazy("Consumable items"), "itassets.importing.items.ItemImporter"),
}

Progress = Callable[[str, int, int | None], None]


def importer_class(kind: str) -> type[Importer]:
    try:
        _label, path = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown import kind {kind!r}") from None
    module, name = path.rsplit(".", 1)
    return getattr(import_module(module), name)


def available_kinds() -> list[str]:
    """The kinds whose importer can be loaded (items need the inventory app's models)."""
    kinds = []
    for kind in KINDS:
        try:
            importer_class(kind)
        except (ImportError, AttributeError):
            continue
        kinds.append(kind)
    return kinds


def _header_missing_message(importer: Importer) -> str:
    examples = "、".join(str(c.label) for c in importer.columns[:6])
    return _(
        "No header row found: none of the first %(n)s rows has two known column headers "
        "(such as %(examples)s)."
    ) % {"n": HEADER_SCAN_ROWS, "examples": examples}


def import_file(
    *,
    kind: str,
    path,
    file_name: str | None = None,
    actor=None,
    dry_run: bool = False,
    encoding: str | None = None,
    sheet: str | None = None,
    create_missing_refs: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate ``path`` and, if every cell is good and not ``dry_run``, import it in one
    transaction (all or nothing). Returns the result with every error found."""
    with gc_paused():
        return _import_file(
            kind=kind,
            path=Path(path),
            file_name=file_name,
            actor=actor,
            dry_run=dry_run,
            encoding=encoding,
            sheet=sheet,
            create_missing_refs=create_missing_refs,
            progress=progress,
        )


def _import_file(
    *, kind, path, file_name, actor, dry_run, encoding, sheet, create_missing_refs, progress
) -> ImportResult:
    timer = Timer()
    importer = importer_class(kind)(
        actor=actor, file_name=file_name or path.name, create_missing_refs=create_missing_refs
    )
    result = importer.result
    result.dry_run = dry_run
    stream = None
    if not dry_run and importer.streams and stream_writes_possible():
        stream = StreamWriter(importer.write_batch)
    try:
        try:
            _validate(
                importer,
                path,
                encoding=encoding,
                sheet=sheet,
                progress=progress,
                after_chunk=(lambda: _feed(importer, stream)) if stream else None,
            )
        except ReadError as exc:
            importer.file_error(str(exc))
        result.errors.sort(key=lambda e: (e.row or 0, -1 if e.col_index is None else e.col_index))
        if result.ok and not dry_run:
            _write(importer, stream, kind=kind, path=path, progress=progress)
    finally:
        if stream is not None and not stream.closed:  # an error or an exception: roll back
            stream.abort()
            importer.release()
    result.elapsed = timer.seconds
    logger.info(
        "import %s %s: %s",
        kind,
        result.file_name,
        result.summary(),
        extra={"import_kind": kind, "dry_run": dry_run},
    )
    return result


def _feed(importer: Importer, stream: StreamWriter) -> None:
    """After each validated chunk: hand what it planned to the writer; at the first error
    stop writing and roll back (validation goes on, to report every bad cell)."""
    if stream.closed:
        return
    if importer.result.ok and stream.error is None:
        stream.feed(importer.take_batch())
    else:
        stream.abort()
        importer.release()


def _write(importer: Importer, stream: StreamWriter | None, *, kind, path, progress) -> None:
    """The write phase: the rest of the stream then commit, or everything in one
    transaction on this connection. A refusal becomes a file-level error (nothing written)."""
    result = importer.result
    total = result.created + result.updated
    report = (lambda done: progress("write", done, total)) if progress else None
    if report:
        report(0)
    try:
        if stream is not None:
            stream.feed(importer.take_batch())
            stream.commit(report)
        else:
            importer.before_write()
            with transaction.atomic():
                importer.write(report)
    except ValidationError as exc:  # a service refused a write (e.g. a stock posting)
        importer.file_error(" ".join(exc.messages))
    except IntegrityError as exc:  # a concurrent change between validation and write
        logger.warning("import %s %s refused by the database: %s", kind, path.name, exc)
        importer.file_error(
            _(
                "The database refused the import (the register changed meanwhile?); "
                "nothing was written. Check the file again."
            )
        )
    else:
        result.written = True
        if report:
            report(total)
    if not result.written:  # rolled back: the tag numbers reserved for it go back
        importer.release()


def _validate(
    importer: Importer, path: Path, *, encoding, sheet, progress, after_chunk=None
) -> None:
    result = importer.result
    with open_table(path, encoding=encoding, sheet=sheet) as table:
        result.encoding, result.sheet = table.encoding, table.sheet
        importer.prepare()
        header = find_header(table.rows, importer.count_known)
        if header is None:
            raise ReadError(_header_missing_message(importer))
        importer.set_header(*header)
        total = None
        if table.estimated_rows:
            total = max(table.estimated_rows - header[0], 0)
        limit = settings.IMPORT_MAX_ROWS
        index = importer.index
        chunk: list[Row] = []
        count = 0
        size = importer.chunk_size
        for number, cells in table.rows:
            count += 1
            if count > limit:
                raise ReadError(
                    _("The file has more than %(max)s data rows; split it into several files.")
                    % {"max": f"{limit:,}"}
                )
            chunk.append(Row(number, cells, index))
            if len(chunk) >= size:
                importer.validate(chunk)
                chunk = []
                if after_chunk:
                    after_chunk()
                if progress:
                    progress("validate", count, total)
        if chunk:
            importer.validate(chunk)
        result.rows = count
        if count:
            importer.finish()
        if progress:
            progress("validate", count, count)
        if count == 0:
            raise ReadError(_("The file has a header but no data rows."))


# --- Error workbook -------------------------------------------------------------------------


def _reason_header() -> str:
    return _("Errors")


reason_header = lazy(_reason_header, str)


def error_workbook_write(
    *,
    result: ImportResult,
    source,
    out,
    encoding=None,
    sheet=None,
    preview: list | None = None,
    preview_limit: int = 200,
) -> int:
    """Write the error workbook: every data row of ``source`` with its bad cells in red and a
    last column with the reasons, then a sheet listing each error. Re-importing the first
    sheet after fixing the red cells imports the whole file (the reason column is ignored).

    ``preview`` (a list) receives the first ``preview_limit`` bad rows as
    ``{"row", "cells", "bad": {column index: reason}}`` for the web page. Returns the number
    of rows written."""
    from itassets.xlsx import STYLE_BOLD, STYLE_ERROR, STYLE_WRAP, XlsxWriter

    from .values import cell_text

    by_row: dict[int, list] = {}
    file_level = []
    for issue in result.errors:
        if issue.row is None:
            file_level.append(issue)
        else:
            by_row.setdefault(issue.row, []).append(issue)
    written = 0
    width = len(result.headers)
    with XlsxWriter(out) as book:
        data = book.sheet(_("Data"), widths=[16] * width + [60])
        data.append([*result.headers, str(reason_header())], styles=[STYLE_BOLD] * (width + 1))
        if result.header_row is not None:
            try:
                with open_table(source, encoding=encoding, sheet=sheet) as table:
                    for number, cells in table.rows:
                        if number <= result.header_row:
                            continue
                        issues = by_row.get(number, ())
                        cells = list(cells[:width]) + [None] * (width - len(cells))
                        styles = {}
                        reasons = []
                        for issue in issues:
                            if issue.col_index is not None and issue.col_index < width:
                                styles[issue.col_index] = STYLE_ERROR
                            reasons.append(f"{issue.column}: {issue.reason}")
                        if reasons:
                            styles[width] = STYLE_ERROR
                            if preview is not None and len(preview) < preview_limit:
                                bad: dict[str, str] = {}
                                for issue in issues:
                                    if issue.col_index is not None:
                                        key = str(issue.col_index)
                                        bad[key] = "；".join(
                                            filter(None, [bad.get(key), issue.reason])
                                        )
                                preview.append(
                                    {
                                        "row": number,
                                        "cells": [cell_text(c) for c in cells],
                                        "bad": bad,
                                        "reasons": reasons,
                                    }
                                )
                        data.append([*cells, "；".join(reasons)], styles=styles or None)
                        written += 1
            except ReadError:
                pass
        errors = book.sheet(_("Errors"), widths=[10, 20, 30, 80])
        errors.append([_("Row"), _("Column"), _("Value"), _("Reason")], styles=[STYLE_BOLD] * 4)
        for issue in [*file_level, *(e for e in result.errors if e.row is not None)]:
            errors.append(
                [issue.row, issue.column, issue.value, issue.reason],
                styles={3: STYLE_WRAP},
            )
    return written


def error_workbook_path(path) -> Path:
    """``assets.xlsx`` → ``assets.errors.xlsx`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.errors.xlsx")


# --- Templates ------------------------------------------------------------------------------


def template_write(*, kind: str, out, **options) -> None:
    """An import template: the header row (required columns marked *), example rows, and an
    instructions sheet, generated from the live fields (custom fields of a chosen category)."""
    from itassets.xlsx import STYLE_BOLD, STYLE_WRAP, XlsxWriter

    importer = importer_class(kind)()
    importer.prepare()
    columns = importer.template_columns(**options)
    with XlsxWriter(out) as book:
        sheet = book.sheet(
            str(KINDS[kind][0]), widths=[max(12, len(h) * 2 + 4) for h, *_ in columns]
        )
        sheet.append(
            [f"{h}*" if required else h for h, _help, required, _ex in columns],
            styles=[STYLE_BOLD] * len(columns),
        )
        for example in importer.template_examples(**options):
            sheet.append(example)
        guide = book.sheet(_("Instructions"), widths=[24, 10, 80, 24])
        guide.append(
            [_("Column"), _("Required"), _("What to enter"), _("Example")],
            styles=[STYLE_BOLD] * 4,
        )
        for header, help_text, required, example in columns:
            guide.append(
                [header, _("Yes") if required else "", help_text, example],
                styles={2: STYLE_WRAP},
            )
        guide.append([])
        for line in _general_instructions():
            guide.append(["", "", line], styles={2: STYLE_WRAP})


def _general_instructions() -> list[str]:
    return [
        _(
            "Columns marked * are required for new rows. Empty cells of existing rows are left "
            "unchanged."
        ),
        _(
            "The header row may have title rows above it; column order does not matter and "
            "unknown columns are listed and skipped."
        ),
        _(
            "Dates: 2024-05-01, 2024/5/1, 2024年5月1日, 20240501 or an Excel date. Amounts may "
            "carry ¥, thousands separators or 元."
        ),
        _(
            "Departments, locations and categories: their code or full path, such as "
            "总部/研发中心/测试部. People: employee number or a unique name."
        ),
        _(
            "The import is all or nothing: if any cell is wrong, nothing is written and every "
            "problem is listed."
        ),
    ]


__all__ = [
    "KINDS",
    "error_workbook_path",
    "error_workbook_write",
    "import_file",
    "importer_class",
    "template_write",
]
