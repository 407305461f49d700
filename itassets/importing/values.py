"""Cell value parsers for imports: what organisations really type into spreadsheets.

Each parser takes a raw cell (str from CSV; str, int, float, bool, datetime from .xlsx) and
returns the Python value or raises :class:`CellError` with a translatable reason. Empty cells
never reach a parser (the importer treats them as "not given").
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _

from itassets.exports import FORMULA_PREFIXES


class CellError(ValueError):
    """A value that cannot be used; ``str(exc)`` is the reason shown to the user."""


# --- Text ---------------------------------------------------------------------------------------

_FULLWIDTH = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def to_halfwidth(text: str) -> str:
    """Full-width ASCII forms (１２３，ＡＢＣ) as plain ASCII; Chinese characters unchanged."""
    return text.translate(_FULLWIDTH)


def cell_text(value) -> str:
    """A cell as text: trimmed; integral numbers without ".0"; our own export's formula
    guard (a leading apostrophe before = + - @ tab CR) removed again."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_PREFIXES):
            return text[1:]
        return text
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    return str(value).strip()


def is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_text(value, *, max_length: int | None = None) -> str:
    text = cell_text(value)
    if max_length is not None and len(text) > max_length:
        raise CellError(
            _("Too long: at most %(max)s characters (this has %(n)s).")
            % {"max": max_length, "n": len(text)}
        )
    return text


# --- Headers ------------------------------------------------------------------------------------

_HEADER_DROP = re.compile(r"[\s*＊:：]+")
_HEADER_SUFFIX = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]$")


def normalise_header(text) -> str:
    """A header as compared with aliases: no spaces, asterisks (required markers) or colons,
    half-width, case-folded. ``" 资产编号* "`` → ``"资产编号"``."""
    if text is None:
        return ""
    return _HEADER_DROP.sub("", to_halfwidth(unicodedata.normalize("NFC", str(text)))).casefold()


def header_candidates(text) -> list[str]:
    """The normalised header and, if it ends in a parenthesised unit, the header without it
    (``金额（元）`` → ``金额(元)``, ``金额``)."""
    norm = normalise_header(text)
    stripped = _HEADER_SUFFIX.sub("", norm)
    return [norm, stripped] if stripped and stripped != norm else [norm]


# --- Dates --------------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL_RE = re.compile(r"^\d{1,7}(?:\.\d+)?$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_MAX_SERIAL = 2958465  # 9999-12-31
_date_cache: dict[str, dt.date] = {}


def date_formats_hint() -> str:
    return _("Use a date such as 2024-05-01, 2024/5/1, 2024年5月1日 or 20240501.")


def _date_from_serial(serial: float) -> dt.date:
    if not 1 <= serial <= _MAX_SERIAL:
        raise CellError(_("Not a date.") + " " + date_formats_hint())
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


def parse_date(value) -> dt.date:
    """Excel dates and serials, ``2024-05-01``, ``2024/5/1``, ``2024.5.1``, ``2024年5月1日``,
    ``20240501`` (with or without a time after)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise CellError(_("Not a date.") + " " + date_formats_hint())
    if isinstance(value, int | float):
        if 19000101 <= value <= 29991231 and float(value).is_integer():
            return parse_date(str(int(value)))
        return _date_from_serial(float(value))
    text = str(value).strip()
    hit = _date_cache.get(text)
    if hit is not None:
        return hit
    norm = to_halfwidth(text)
    match = _DATE_RE.match(norm) or _COMPACT_RE.match(norm)
    try:
        if match:
            year, month, day = (int(g) for g in match.groups())
            result = dt.date(year, month, day)
        elif _SERIAL_RE.match(norm):
            result = _date_from_serial(float(norm))
        else:
            raise CellError(_("Not a date.") + " " + date_formats_hint())
    except ValueError as exc:
        if isinstance(exc, CellError):
            raise
        raise CellError(_("No such date.") + " " + date_formats_hint()) from None
    if len(_date_cache) > 50_000:
        _date_cache.clear()
    _date_cache[text] = result
    return result


# --- Numbers ------------------------------------------------------------------------------------

_AMOUNT_DROP = re.compile(r"[\s,，¥￥$]|元|人民币|RMB|CNY", re.IGNORECASE)
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
CENT = Decimal("0.01")
# ¥12,999.00, ￥800, 12999.5: an optional currency sign, digits with or without thousands
# separators, an optional fraction (anything else takes the general path below)
_PLAIN_AMOUNT = re.compile(r"[¥￥]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\Z")


def parse_decimal(
    value,
    *,
    places: int = 2,
    max_digits: int = 14,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    percent: bool = False,
) -> Decimal:
    """Amounts as people write them: ``¥12,999.00``, ``12999元``, ``1.2万``, ``5%``."""
    if value.__class__ is str:
        plain = _PLAIN_AMOUNT.match(value)
        if plain is not None and len(plain.group(2) or "") <= places:
            # the common ¥12,999.00 / 12999.5 / 800: built exact, no rounding to check
            whole, fraction = plain.group(1), (plain.group(2) or "")
            if "," in whole:
                whole = whole.replace(",", "")
            fraction = fraction.ljust(places, "0")
            # the coefficient's digits, as Decimal.as_tuple() counts them (no leading zeros)
            if len((whole + fraction).lstrip("0")) > max_digits:
                raise CellError(_("The number is too large."))
            rounded = Decimal(f"{whole}.{fraction}" if places else whole)
            if minimum is not None and rounded < minimum:
                raise CellError(_("Must be at least %(min)s.") % {"min": minimum})
            if maximum is not None and rounded > maximum:
                raise CellError(_("Must be at most %(max)s.") % {"max": maximum})
            return rounded
    if isinstance(value, bool):
        raise CellError(_("Not a number."))
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    else:
        text = _AMOUNT_DROP.sub("", to_halfwidth(str(value)))
        scale = 1
        if text.endswith("万"):
            text, scale = text[:-1], 10_000
        if percent and text.endswith("%"):
            text = text[:-1]
        if not _NUMBER_RE.match(text):
            raise CellError(_("Not a number."))
        number = Decimal(text) * scale
    try:
        rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise CellError(_("The number is too large.")) from None
    tolerance = Decimal("1e-6") if isinstance(value, float) else Decimal(0)
    if abs(rounded - number) > tolerance:
        raise CellError(_("At most %(places)s decimal places.") % {"places": places})
    return _decimal_limits(rounded, max_digits, minimum, maximum)


def _decimal_limits(rounded: Decimal, max_digits: int, minimum, maximum) -> Decimal:
    if len(rounded.as_tuple().digits) > max_digits:
        raise CellError(_("The number is too large."))
    if minimum is not None and rounded < minimum:
        raise CellError(_("Must be at least %(min)s.") % {"min": minimum})
    if maximum is not None and rounded > maximum:
        raise CellError(_("Must be at most %(max)s.") % {"max": maximum})
    return rounded


def parse_int(value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise CellError(_("Not a whole number."))
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise CellError(_("Not a whole number."))
        number = int(value)
    else:
        text = to_halfwidth(str(value)).strip().replace(",", "")
        if text.endswith(".0"):
            text = text[:-2]
        if not re.fullmatch(r"[+-]?\d+", text):
            raise CellError(_("Not a whole number."))
        number = int(text)
    if minimum is not None and number < minimum:
        raise CellError(_("Must be at least %(min)s.") % {"min": minimum})
    if maximum is not None and number > maximum:
        raise CellError(_("Must be at most %(max)s.") % {"max": maximum})
    return number


# --- Yes / no -----------------------------------------------------------------------------------

_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "对", "有", "启用", "在职"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "✘", "错", "无", "停用", "离职"}


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = to_halfwidth(str(value)).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(_("Not yes or no (use %(yes)s or %(no)s).") % {"yes": "是", "no": "否"})


def format_bool(value: bool) -> str:
    return "是" if value else "否"
