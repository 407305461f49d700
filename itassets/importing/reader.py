"""Reading an uploaded spreadsheet as rows, safely and in constant memory.

- The type is decided from the bytes: a zip is an ``.xlsx`` workbook, an OLE2 file an old
  ``.xls`` (refused: "save as .xlsx"), anything else text (CSV).
- Limits (settings): ``IMPORT_MAX_BYTES`` for the file, ``IMPORT_MAX_ROWS`` for data rows,
  and for workbooks ``IMPORT_MAX_UNCOMPRESSED_BYTES`` / ``IMPORT_MAX_COMPRESSION_RATIO``,
  checked from the zip directory before any XML is parsed (a zip bomb is refused unopened).
- CSV encodings: a UTF-8 (or UTF-16) byte-order mark decides; else the whole file is checked
  as strict UTF-8 (streamed, C speed); else GB18030 (a superset of GBK and GB2312, what Excel
  on Chinese Windows writes). ``encoding=`` overrides. The delimiter (``,`` ``;`` tab ``|``) is
  sniffed from the first lines.
- Rows come as ``(row number as Excel shows it, [cell values])``; blank rows are skipped but
  keep their numbers. The header row is found by the importer (:func:`find_header`).
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from itassets.xlsx import XlsxBook

HEADER_SCAN_ROWS = 30
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DIMENSION_RE = re.compile(rb'<dimension\s+ref="[A-Z]+\d+:[A-Z]+(\d+)"')
_RATIO_MIN_BYTES = 20 * 1024 * 1024  # below this, no compression ratio is suspicious


class ReadError(Exception):
    """The file as a whole cannot be imported; ``str(exc)`` says why (translated)."""


def _mb(n: int) -> str:
    return f"{n / 1048576:.1f}"


@dataclass
class Table:
    """An opened file: its rows, and what was detected about it."""

    kind: str  # "xlsx" or "csv"
    rows: Iterator[tuple[int, list]]
    estimated_rows: int | None = None
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    _close: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sniff_kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        raise ReadError(_("Old .xls workbooks cannot be imported: save the file as .xlsx."))
    return "csv"


def open_table(path, *, encoding: str | None = None, sheet: str | None = None) -> Table:
    """Open ``path`` (an .xlsx workbook or a CSV file) after checking the limits."""
    path = Path(path)
    size = path.stat().st_size
    if size > settings.IMPORT_MAX_BYTES:
        raise ReadError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": _mb(size), "limit": _mb(settings.IMPORT_MAX_BYTES)}
        )
    if size == 0:
        raise ReadError(_("The file is empty."))
    if sniff_kind(path) == "xlsx":
        return _open_xlsx(path, sheet=sheet)
    return _open_csv(path, encoding=encoding)


# --- xlsx -----------------------------------------------------------------------------------


def check_zip(path: Path) -> int:
    """Refuse a zip bomb from the zip directory alone; return the uncompressed size."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise ReadError(_("The workbook is damaged or not an .xlsx file.")) from None
    unpacked = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if unpacked > settings.IMPORT_MAX_UNCOMPRESSED_BYTES:
        raise ReadError(
            _(
                "The workbook unpacks to %(size)s MB, more than the %(limit)s MB allowed; "
                "it was not opened."
            )
            % {"size": _mb(unpacked), "limit": _mb(settings.IMPORT_MAX_UNCOMPRESSED_BYTES)}
        )
    ratio = unpacked / packed
    if unpacked > _RATIO_MIN_BYTES and ratio > settings.IMPORT_MAX_COMPRESSION_RATIO:
        raise ReadError(
            _(
                "The workbook is compressed %(ratio)d times, more than a spreadsheet can be; "
                "it was not opened."
            )
            % {"ratio": ratio}
        )
    return unpacked


def _open_xlsx(path: Path, *, sheet: str | None) -> Table:
    check_zip(path)
    try:
        book = XlsxBook(path)
    except Exception:
        raise ReadError(_("The workbook is damaged or not an .xlsx file.")) from None
    names = book.sheet_names
    if not names:
        book.close()
        raise ReadError(_("The workbook has no sheet."))
    if sheet is not None and sheet not in names:
        book.close()
        raise ReadError(
            _("There is no sheet named “%(sheet)s”; the workbook has: %(names)s.")
            % {"sheet": sheet, "names": "、".join(names)}
        )
    name = sheet if sheet is not None else names[0]
    return Table(
        kind="xlsx",
        rows=_guard_xml(book.rows(name)),
        estimated_rows=_xlsx_dimension(book, name),
        sheet=name,
        _close=book.close,
    )


def _guard_xml(rows: Iterator) -> Iterator:
    try:
        yield from rows
    except Exception as exc:  # expat, zip or CRC errors in the middle of the sheet
        if isinstance(exc, ReadError):
            raise
        raise ReadError(_("The workbook is damaged or not an .xlsx file.")) from None


def _xlsx_dimension(book: XlsxBook, name: str) -> int | None:
    """The last row from the sheet's <dimension> element, if it has one near the top."""
    with book._reader.archive.open(book._sheets[name]) as src:
        head = src.read(4096)
    match = _DIMENSION_RE.search(head)
    return int(match.group(1)) if match else None


# --- csv ------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` / ``utf-16`` by byte-order mark, else ``utf-8`` if the whole file decodes
    strictly, else ``gb18030``."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _sniff_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    best, best_score = ",", 0
    for delimiter in (",", "\t", ";", "|"):
        counts = [line.count(delimiter) for line in lines]
        if not counts or max(counts) == 0:
            continue
        # the delimiter appears on most lines, the same number of times on the header's peers
        score = sum(1 for c in counts if c) * 1000 + max(counts)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _open_csv(path: Path, *, encoding: str | None) -> Table:
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ReadError(
                _("Unknown encoding “%(encoding)s”.") % {"encoding": encoding}
            ) from None
    else:
        encoding = detect_encoding(path)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        if b"\x00" in head and not encoding.startswith("utf-16"):
            raise ReadError(_("Unsupported file type: upload an .xlsx workbook or a .csv file."))
    try:
        with open(path, encoding=encoding, newline="") as f:
            sample = f.read(1 << 15)
    except UnicodeDecodeError:
        raise _decode_error(encoding) from None
    delimiter = _sniff_delimiter(sample)
    with open(path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    handle = open(path, encoding=encoding, newline="")  # noqa: SIM115 (closed by Table.close)
    return Table(
        kind="csv",
        rows=_csv_rows(handle, delimiter, encoding),
        estimated_rows=lines + 1,
        encoding=encoding,
        delimiter=delimiter,
        _close=handle.close,
    )


def _decode_error(encoding: str) -> ReadError:
    return ReadError(
        _(
            "The file cannot be read as %(encoding)s text. Save it as “CSV UTF-8” or as an "
            ".xlsx workbook, or name its encoding."
        )
        % {"encoding": encoding}
    )


def _csv_rows(handle, delimiter: str, encoding: str) -> Iterator[tuple[int, list]]:
    reader = csv.reader(handle, delimiter=delimiter)
    number = 0
    try:
        for record in reader:
            number += 1
            joined = "".join(record)
            if joined and not joined.isspace():
                yield number, record
    except UnicodeDecodeError:
        raise _decode_error(encoding) from None
    except csv.Error as exc:
        raise ReadError(
            _("The CSV file is malformed near row %(row)s: %(error)s")
            % {"row": number + 1, "error": exc}
        ) from None


# --- header ---------------------------------------------------------------------------------


def find_header(
    rows: Iterator[tuple[int, list]], matches: Callable[[list], int], *, minimum: int = 2
) -> tuple[int, list] | None:
    """The first row (within the first ``HEADER_SCAN_ROWS``) where ``matches(cells)`` known
    headers are at least ``minimum``; title rows above it are skipped. None if there is none.
    The iterator is left just after the header."""
    for seen, (number, cells) in enumerate(rows):
        if seen >= HEADER_SCAN_ROWS:
            return None
        if matches(cells) >= minimum:
            return number, cells
    return None
