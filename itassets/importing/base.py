"""The importer framework: columns and their aliases, header mapping, per-cell errors, results.

An importer (one per kind: assets, people, …) declares its :class:`Column` list and
implements three steps, which :func:`itassets.importing.service.import_file` drives:

1. ``prepare()``: load every reference it resolves into in-memory maps, once.
2. ``validate(rows)``: called per chunk of rows (``CHUNK`` rows). Parses every cell, reports
   each bad one with :meth:`Importer.error`, and keeps what it would write in compact form.
   A chunk may cost a few queries (existing rows by key), never one per row.
3. ``write()``: only when no error was found and not a dry run, inside one transaction:
   bulk inserts and updates in batches. Importers that set ``streams`` are instead written
   chunk by chunk while validation goes on, still in one transaction that commits only when
   the whole file is valid (``take_batch``/``write_batch``; see ``writer.py``).

Errors name the row as Excel shows it, the header as the file spells it, the value and the
reason (an English msgid, translated when reported).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from .values import CellError, cell_text, header_candidates, is_empty, normalise_header

CHUNK = 2000
# Headers that are never data (row numbers, our own error workbook's reason column).
IGNORED_HEADERS = ("序号", "行号", "no", "no.", "#", "错误原因", "errors", "error", "原行号")


_ignored: set[str] = set()


def ignored_headers() -> set[str]:
    """IGNORED_HEADERS and the error workbook's reason column in every language."""
    if not _ignored:
        names = set(IGNORED_HEADERS)
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                names.add(normalise_header(_("Errors")))
        _ignored.update(names)
    return _ignored


@dataclass(frozen=True)
class Column:
    """One column an importer understands.

    ``label`` is the English msgid used as the header of templates and exports (translated);
    ``aliases`` are further headers people use (data, in Chinese and English). ``required``:
    a new row needs a value. ``help`` and ``example`` go into the template.
    """

    key: str
    label: Promise | str
    aliases: tuple[str, ...] = ()
    required: bool = False
    help: Promise | str = ""
    example: object = ""


@dataclass(slots=True)
class CellIssue:
    """One bad cell (or a file-level problem when ``row`` is None)."""

    row: int | None
    column: str
    value: str
    reason: str
    col_index: int | None = None

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
            "col": self.col_index,
        }


@dataclass
class ImportResult:
    kind: str
    file_name: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refs_created: dict[str, int] = field(default_factory=dict)
    errors: list[CellIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    header_row: int | None = None
    headers: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    written: bool = False
    encoding: str = ""
    sheet: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors if e.row is not None})

    def summary(self) -> dict:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refs_created": self.refs_created,
            "errors": len(self.errors),
            "error_rows": self.error_rows,
            "written": self.written,
            "elapsed": round(self.elapsed, 2),
        }


class Row:
    """A data row: its Excel number, raw cells, and the header's key → index map."""

    __slots__ = ("cells", "index", "number")

    def __init__(self, number: int, cells: list, index: dict[str, int]):
        self.number = number
        self.cells = cells
        self.index = index

    def raw(self, key: str):
        i = self.index.get(key)
        if i is None or i >= len(self.cells):
            return None
        value = self.cells[i]
        return None if is_empty(value) else value


class Importer:
    """Base class; see the module docstring. Subclasses set ``kind``, ``label``,
    ``permission``, ``columns`` and implement ``prepare``, ``validate`` and ``write``."""

    kind = ""
    label: Promise | str = ""
    permission = ""
    columns: Sequence[Column] = ()
    chunk_size = CHUNK
    # Rows with errors after which validation of further chunks is pointless is never: every
    # bad cell is reported. ``write`` batches:
    batch_size = 5000

    def __init__(self, *, actor=None, file_name: str = "", create_missing_refs: bool = False):
        self.actor = actor
        self.file_name = file_name
        self.create_missing_refs = create_missing_refs
        self.result = ImportResult(kind=self.kind, file_name=file_name, dry_run=True)
        self.by_key = {c.key: c for c in self.columns}
        self.index: dict[str, int] = {}  # column key → index in the file
        self.headers: list[str] = []  # the file's header texts
        self.extra: dict[int, object] = {}  # index → importer-specific column (custom fields)

    # --- header -------------------------------------------------------------------------

    @classmethod
    def alias_map(cls) -> dict[str, str]:
        """Normalised header → column key: labels in every language, then the aliases."""
        cached = cls.__dict__.get("_alias_cache")
        if cached is not None:
            return cached
        mapping: dict[str, str] = {}
        for column in cls.columns:
            names = [column.key, *column.aliases]
            for code, _name in settings.LANGUAGES:
                with translation.override(code):
                    names.append(str(column.label))
            for name in names:
                mapping.setdefault(normalise_header(name), column.key)
        cls._alias_cache = mapping
        return mapping

    def extra_headers(self) -> dict[str, object]:
        """Further headers this importer understands (normalised → anything), e.g. custom
        fields by label. Read after ``prepare``."""
        return {}

    def _classify(self, cell, extra: dict) -> tuple[str, object]:
        aliases = self.alias_map()
        ignored = ignored_headers()
        for candidate in header_candidates(cell):
            if candidate in aliases:
                return "column", aliases[candidate]
            if candidate in extra:
                return "extra", extra[candidate]
            if candidate in ignored:
                return "ignored", None
        return "unknown", None

    def count_known(self, cells: list) -> int:
        extra = self.extra_headers()
        return sum(
            1
            for cell in cells
            if not is_empty(cell) and self._classify(cell, extra)[0] in ("column", "extra")
        )

    def set_header(self, number: int, cells: list) -> None:
        self.result.header_row = number
        self.headers = [cell_text(c) for c in cells]
        self.result.headers = self.headers
        extra = self.extra_headers()
        unknown = []
        for i, cell in enumerate(cells):
            if is_empty(cell):
                continue
            kind, what = self._classify(cell, extra)
            if kind == "column":
                if what in self.index:
                    self.file_error(
                        _("The column “%(header)s” appears twice.") % {"header": cell_text(cell)},
                        column=self.headers[i],
                        col_index=i,
                    )
                    continue
                self.index[what] = i
            elif kind == "extra":
                self.extra[i] = what
            elif kind == "unknown":
                unknown.append(self.headers[i])
        if unknown:
            self.result.warnings.append(
                _("Columns not imported (unknown headers): %(headers)s")
                % {"headers": "、".join(unknown)}
            )
        self.check_header()

    def check_header(self) -> None:
        """Report missing columns the importer cannot work without (file-level errors)."""

    def require_columns(self, *keys: str) -> None:
        for key in keys:
            if key not in self.index:
                self.file_error(
                    _("The required column “%(column)s” is missing.")
                    % {"column": self.header_of(key)},
                    column=self.header_of(key),
                )

    def header_of(self, key: str) -> str:
        i = self.index.get(key)
        if i is not None:
            return self.headers[i]
        return str(self.by_key[key].label) if key in self.by_key else key

    # --- errors -------------------------------------------------------------------------

    def error(self, row: Row, key: str, reason: str, *, value=None, col_index=None) -> None:
        """Report one bad cell of ``row`` in column ``key`` (a column key, or a header text
        for importer-specific columns given with ``col_index``)."""
        if col_index is None:
            col_index = self.index.get(key)
        column = self.headers[col_index] if col_index is not None else self.header_of(key)
        if value is None and col_index is not None and col_index < len(row.cells):
            value = row.cells[col_index]
        self.result.errors.append(
            CellIssue(row.number, column, cell_text(value), str(reason), col_index)
        )

    def file_error(self, reason: str, *, column: str = "", col_index: int | None = None) -> None:
        self.result.errors.append(CellIssue(None, column, "", str(reason), col_index))

    def parse(self, row: Row, key: str, parser: Callable, **kwargs):
        """The parsed value of ``key`` in ``row``; None when empty or bad (bad is reported)."""
        raw = row.raw(key)
        if raw is None:
            return None
        try:
            return parser(raw, **kwargs)
        except CellError as exc:
            self.error(row, key, str(exc), value=raw)
            return None

    # --- steps ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Load reference data into memory (once, before the header is read)."""

    def validate(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Called after the last chunk: checks that need the whole file (tree parents)."""

    def before_write(self) -> None:
        """Work that must happen outside the import's transaction (e.g. reserving tags)."""

    def write(self, progress: Callable[[int], None] | None = None) -> None:
        raise NotImplementedError

    # --- streamed writes (itassets.importing.writer) ------------------------------------
    # An importer that can write each validated chunk while the next ones are validated
    # sets ``streams``: the service then calls ``take_batch()`` after every chunk (on the
    # importing thread) and ``write_batch(batch)`` on the writer thread, inside the one
    # transaction; ``release()`` after a rolled-back stream.
    streams = False

    def take_batch(self) -> object:
        """What the chunks validated since the last call plan to write."""
        raise NotImplementedError

    def write_batch(self, batch) -> int:
        """Write a batch from ``take_batch``; return the number of rows written."""
        raise NotImplementedError

    def release(self) -> None:
        """Give back what a rolled-back stream reserved outside its transaction."""

    # --- templates ------------------------------------------------------------------------

    def template_columns(self, **options) -> list[tuple[str, str, bool, str]]:
        """(header, help, required, example) per template column."""
        return [(str(c.label), str(c.help), c.required, c.example) for c in self.columns]

    def template_examples(self, **options) -> list[list]:
        return [[c.example for c in self.columns]]


def batched(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Timer:
    def __init__(self):
        self.start = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.start


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused():
    """No cyclic garbage collection while an import runs (nested and concurrent imports
    count: the last one out turns it back on if it was on).

    An import allocates millions of short-lived objects that reference counting frees; the
    collector still ran some 900 times over a 100,000-row file, traversing everything alive
    each time a generation filled, for 20 to 30 % of the validation's CPU. The import's own
    structures have no reference cycles (memoised cell errors drop their tracebacks)."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()
