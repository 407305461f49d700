"""QR asset labels as PDF: pure rendering, no database access and no request.

``render_labels(assets, fmt="50x30", organisation="示例单位")`` draws one label per asset: a QR
code encoding ``SITE_URL/assets/<tag>/`` (where a scan lands on the detail page), the tag in
large type, the asset name, its using department and the organisation name.

Formats (``FORMATS``): 50×30 mm and 70×40 mm thermal labels (one label per page of that size)
and an A4 sheet of 3 × 8 labels laid out for the common 63.5 × 33.9 mm 24-up sheets (e.g.
Avery L7159), so it prints on pre-cut sheets as well as on plain paper.

Chinese needs an embedded TrueType CJK font. reportlab reads only TrueType outlines, so the
CFF-based Noto CJK collection does not work; we use WenQuanYi Zen Hei from the Debian package
``fonts-wqy-zenhei`` (settings ``LABEL_FONT_PATH`` / ``LABEL_FONT_INDEX``). reportlab embeds
only the glyphs used (a subset), which keeps a label PDF small.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.pdfgen.pathobject import PDFPathObject

from .qr import qr_code

ELLIPSIS = "…"
MIN_FONT_SIZE = 5.0  # points; still legible on a 203 dpi thermal printer


@dataclass(frozen=True)
class LabelFormat:
    """Geometry of one label format, in millimetres (origin: the page's top-left corner)."""

    key: str
    label: str
    width: float
    height: float
    page_width: float
    page_height: float
    columns: int = 1
    rows: int = 1
    left: float = 0.0  # page margin before the first column
    top: float = 0.0  # page margin above the first row
    h_pitch: float = 0.0  # distance between the left edges of two columns
    v_pitch: float = 0.0  # distance between the top edges of two rows
    padding: float = 2.0  # blank border inside each label

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


FORMATS: dict[str, LabelFormat] = {
    f.key: f
    for f in [
        LabelFormat("50x30", _("50 × 30 mm thermal label"), 50, 30, 50, 30, padding=2.0),
        LabelFormat("70x40", _("70 × 40 mm thermal label"), 70, 40, 70, 40, padding=2.5),
        LabelFormat(
            "a4-3x8",
            _("A4 sheet, 3 × 8 labels (63.5 × 33.9 mm)"),
            63.5,
            33.9,
            210,
            297,
            columns=3,
            rows=8,
            left=7.25,
            top=12.9,
            h_pitch=66.0,
            v_pitch=33.9,
            padding=3.0,
        ),
    ]
}
DEFAULT_FORMAT = "50x30"


# --- Font ---------------------------------------------------------------------------------------

_font_lock = threading.Lock()
_registered: dict[tuple[str, int], str] = {}


def label_font() -> str:
    """Register the configured CJK TrueType font once and return its reportlab name."""
    path, index = settings.LABEL_FONT_PATH, settings.LABEL_FONT_INDEX
    key = (path, index)
    with _font_lock:
        if key in _registered:
            return _registered[key]
        if not Path(path).is_file():
            raise ImproperlyConfigured(
                f"Label font not found at LABEL_FONT_PATH={path!r}. Install the Debian package "
                "fonts-wqy-zenhei (apt-get install fonts-wqy-zenhei) or point LABEL_FONT_PATH "
                "at another TrueType font with Chinese glyphs."
            )
        name = "LabelCJK-" + hashlib.sha256(f"{path}:{index}".encode()).hexdigest()[:10]
        try:
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
        except TTFError as exc:
            raise ImproperlyConfigured(
                f"LABEL_FONT_PATH={path!r} (index {index}) cannot be embedded by reportlab: "
                f"{exc}. Use a TrueType-outline font such as WenQuanYi Zen Hei "
                "(fonts-wqy-zenhei); CFF/OpenType fonts such as Noto Sans CJK do not work."
            ) from exc
        _registered[key] = name
        return name


# --- Text fitting -------------------------------------------------------------------------------

# Runs of Latin letters/digits/punctuation stay together; CJK characters and spaces stand alone,
# so Chinese wraps between any two characters and English between words.
_TOKENS = re.compile(r"[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+|\s+|.", re.DOTALL)


def _width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


def _truncate(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut to fit ``width`` with a trailing ellipsis (unchanged if it already fits)."""
    if _width(text, font, size) <= width:
        return text
    while text and _width(text + ELLIPSIS, font, size) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def wrap_text(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy line breaking: Chinese between characters, other scripts between words."""
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(" ".join(text.split())):
        if _width(line + token, font, size) <= width:
            line += token
            continue
        if token.isspace():
            lines.append(line)
            line = ""
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        if _width(token, font, size) <= width:
            line = token
            continue
        for char in token:  # a word longer than the line: break it anywhere
            if line and _width(line + char, font, size) > width:
                lines.append(line)
                line = ""
            line += char
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def fit_text(
    text: str, font: str, *, width: float, max_size: float, max_lines: int, min_size: float
) -> tuple[float, list[str]]:
    """The largest size (≤ max_size, ≥ min_size) at which ``text`` fits in ``max_lines``;
    at the smallest size the overflow is cut off with an ellipsis."""
    size = max_size
    while True:
        lines = wrap_text(text, font, size, width)
        if len(lines) <= max_lines:
            return size, lines
        if size - 0.5 < min_size:
            break
        size -= 0.5
    kept = lines[:max_lines]
    kept[-1] = _truncate(kept[-1] + ELLIPSIS, font, size, width)
    return size, kept


# --- Drawing ------------------------------------------------------------------------------------


def _draw_qr(c, tag: str, *, x: float, y: float, side: float) -> None:
    """A QR code as filled rectangles (one per run of dark modules) in a ``side`` square.

    Drawn in module units (translate + scale), so the path holds small integers only.
    """
    qr = qr_code(tag)  # the same code as on the detail page: SITE_URL/assets/<tag>/
    border = 1  # modules; the label padding adds to the quiet zone
    matrix = qr.matrix
    n = len(matrix)
    module = side / (n + 2 * border)
    ops = ["n"]  # PDF "re" operators in module units, formatted once here
    for r, row in enumerate(matrix):
        top = n + border - r - 1
        col = 0
        while col < n:
            if not row[col]:
                col += 1
                continue
            start = col
            while col < n and row[col]:
                col += 1
            ops.append(f"{start + border} {top} {col - start} 1 re")
    c.saveState()
    c.translate(x, y)
    c.scale(module, module)
    c.drawPath(PDFPathObject(code=ops), stroke=0, fill=1)
    c.restoreState()


def _draw_lines(c, lines, font, size, *, x, top, leading) -> float:
    """Draw ``lines`` from ``top`` downwards; return the y below the last line."""
    c.setFont(font, size)
    baseline = top - size * 0.86
    for line in lines:
        c.drawString(x, baseline, line)
        baseline -= leading
    return top - leading * len(lines)


def _department_text(department, font, size, width) -> str:
    if department is None:
        return ""
    full = getattr(department, "full_name", "") or department.name
    return full if _width(full, font, size) <= width else department.name


def _draw_label(c, asset, fmt: LabelFormat, *, x0, y0, organisation, font) -> None:
    """One label with its bottom-left corner at (x0, y0), in points."""
    w, h, pad = fmt.width * mm, fmt.height * mm, fmt.padding * mm
    inner_w, inner_h = w - 2 * pad, h - 2 * pad
    scale = fmt.height / 30  # font sizes grow with the label

    # Bottom band: the tag, as large as the width allows, centred; faux bold (fill + stroke).
    band = inner_h * 0.27
    tag = asset.tag
    size = min(band / 0.9, inner_w / max(_width(tag, font, 1), 1))
    c.saveState()
    c.setLineWidth(size * 0.04)
    text = c.beginText()
    text.setTextRenderMode(2)
    text.setFont(font, size)
    text.setTextOrigin(x0 + (w - _width(tag, font, size)) / 2, y0 + pad + (band - 0.73 * size) / 2)
    text.textOut(tag)
    c.drawText(text)
    c.restoreState()

    # Upper area: QR on the left, text on the right.
    gap = 1.5 * mm * scale
    area_bottom = y0 + pad + band + 1 * mm
    side = y0 + h - pad - area_bottom
    _draw_qr(c, tag, x=x0 + pad, y=area_bottom, side=side)

    tx = x0 + pad + side + gap
    tw = x0 + w - pad - tx
    top = area_bottom + side

    org_size, org_lines = fit_text(
        organisation, font, width=tw, max_size=6 * scale, max_lines=1, min_size=MIN_FONT_SIZE
    )
    c.setFillGray(0.25)
    top = _draw_lines(c, org_lines, font, org_size, x=tx, top=top, leading=org_size * 1.15)
    c.setFillGray(0)
    c.setLineWidth(0.4)
    c.line(tx, top - 0.4 * mm, tx + tw, top - 0.4 * mm)
    top -= 1.2 * mm

    dept_max = 6.5 * scale
    dept_text = _department_text(getattr(asset, "department", None), font, MIN_FONT_SIZE, tw)
    dept_size, dept_lines = (0.0, [])
    if dept_text:
        dept_size, dept_lines = fit_text(
            dept_text, font, width=tw, max_size=dept_max, max_lines=2, min_size=MIN_FONT_SIZE
        )
    dept_height = dept_size * 1.15 * len(dept_lines)

    name_max = 8 * scale
    name_leading = 1.15
    room = top - area_bottom - dept_height - (1 * mm if dept_lines else 0)
    max_lines = max(1, int(room // (MIN_FONT_SIZE * name_leading)))
    name_size = name_max
    while True:  # the largest size whose wrapped lines fit the room left
        name_size, name_lines = fit_text(
            asset.name or "",
            font,
            width=tw,
            max_size=name_size,
            max_lines=min(3, max_lines),
            min_size=MIN_FONT_SIZE,
        )
        if len(name_lines) * name_size * name_leading <= room or name_size <= MIN_FONT_SIZE:
            break
        name_size -= 0.5
    _draw_lines(c, name_lines, font, name_size, x=tx, top=top, leading=name_size * name_leading)

    if dept_lines:
        c.setFillGray(0.2)
        _draw_lines(
            c,
            dept_lines,
            font,
            dept_size,
            x=tx,
            top=area_bottom + dept_height,
            leading=dept_size * 1.15,
        )
        c.setFillGray(0)


def render_labels(
    assets: Iterable,
    *,
    fmt: str = DEFAULT_FORMAT,
    organisation: str,
) -> bytes:
    """A PDF with one label per asset (anything with ``tag``, ``name`` and ``department``)."""
    try:
        layout = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown label format {fmt!r}; choose one of {sorted(FORMATS)}") from None
    font = label_font()
    out = io.BytesIO()
    c = pdf_canvas.Canvas(
        out, pagesize=(layout.page_width * mm, layout.page_height * mm), pageCompression=1
    )
    c.setTitle(str(_("Asset labels")))
    c.setAuthor(organisation)
    c.setCreator("itassets")
    slot = 0
    drawn = False
    for asset in assets:
        if slot == layout.per_page:
            c.showPage()
            slot = 0
        row, col = divmod(slot, layout.columns)
        x0 = (layout.left + col * layout.h_pitch) * mm
        y0 = (layout.page_height - layout.top - row * layout.v_pitch - layout.height) * mm
        _draw_label(c, asset, layout, x0=x0, y0=y0, organisation=organisation, font=font)
        slot += 1
        drawn = True
    if not drawn:
        raise ValueError("no assets to print")
    c.showPage()
    c.save()
    return out.getvalue()
