"""A posted stock document as an A4 PDF (入库单, 出库单, 调拨单, 退库单, 盘盈单, 盘亏单, 调整单):
rendering only, no writes.

``render_document(document)`` lays out the organisation, the title of the type, the number,
date and status, the header (warehouses, supplier and invoice number, who receives or
returns, requisition, reason), the lines (item code, name, specification, unit, quantity,
unit cost, amount) with totals, and signature lines that depend on the type.

Like the handover receipt (``assets.handover_pdf``) it embeds the CJK TrueType font of the
labels (WenQuanYi Zen Hei, settings ``LABEL_FONT_PATH``) and is written in the site's
language, whatever the language of the user who prints it.
"""

from __future__ import annotations

from decimal import Decimal
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from assets.labels import label_font
from itassets.pdf import build_pdf, user_display

from .models import Direction, Document, DocumentType, format_quantity

EMPTY = "—"
ZERO = Decimal("0")

TITLES = {
    DocumentType.RECEIPT: gettext_lazy("Stock receipt note"),  # 入库单
    DocumentType.ISSUE: gettext_lazy("Stock issue note"),  # 出库单
    DocumentType.TRANSFER: gettext_lazy("Stock transfer note"),  # 调拨单
    DocumentType.RETURN: gettext_lazy("Stock return note"),  # 退库单
    DocumentType.STOCKTAKE_GAIN: gettext_lazy("Stocktake gain note"),  # 盘盈单
    DocumentType.STOCKTAKE_LOSS: gettext_lazy("Stocktake loss note"),  # 盘亏单
    DocumentType.ADJUSTMENT: gettext_lazy("Stock adjustment note"),  # 调整单
}

# Who signs each type of note.
SIGNATURES = {
    DocumentType.RECEIPT: (
        gettext_lazy("Delivered by"),
        gettext_lazy("Received by (keeper)"),
        gettext_lazy("Checked by"),
    ),
    DocumentType.ISSUE: (
        gettext_lazy("Issued by (keeper)"),
        gettext_lazy("Received by"),
        gettext_lazy("Approved by"),
    ),
    DocumentType.TRANSFER: (
        gettext_lazy("Sent by"),
        gettext_lazy("Received by"),
        gettext_lazy("Approved by"),
    ),
    DocumentType.RETURN: (
        gettext_lazy("Returned by"),
        gettext_lazy("Received by (keeper)"),
        gettext_lazy("Checked by"),
    ),
}
DEFAULT_SIGNATURES = (
    gettext_lazy("Prepared by"),
    gettext_lazy("Keeper"),
    gettext_lazy("Approved by"),
)


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=12),
        "num": ParagraphStyle("num", parent=base, fontSize=9, leading=12, alignment=TA_RIGHT),
        "org": ParagraphStyle("org", parent=base, fontSize=12, leading=16, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER, spaceAfter=4 * mm
        ),
        "head": ParagraphStyle("head", parent=base, fontSize=9, leading=12),
    }


def _money(value, places: int = 2) -> str:
    return EMPTY if value is None else f"{value:,.{places}f}"


def render_document(document: Document, *, lines: list | None = None) -> bytes:
    """The note as PDF bytes; ``lines`` default to the document's (prefetched if loaded by
    ``selectors.document_get``)."""
    if lines is None:
        lines = list(document.lines.all())
    with translation.override(settings.LANGUAGE_CODE):
        return _render(document, lines)


def _header_rows(document: Document, p) -> list[list]:
    pairs = [
        (_("Number"), document.number or EMPTY),
        (_("Date"), document.date.isoformat()),
        (_("Type"), document.get_type_display()),
        (_("Status"), document.get_status_display()),
    ]
    if document.type == DocumentType.TRANSFER:
        pairs += [
            (_("From warehouse"), str(document.warehouse)),
            (_("To warehouse"), str(document.to_warehouse or EMPTY)),
        ]
    else:
        pairs.append((_("Warehouse"), str(document.warehouse)))
    if document.type == DocumentType.RECEIPT:
        pairs += [
            (_("Supplier"), str(document.supplier or EMPTY)),
            (_("Invoice number"), document.invoice_no or EMPTY),
        ]
    if document.person_id:
        label = _("Returned by") if document.type == DocumentType.RETURN else _("Issued to")
        pairs.append((label, str(document.person)))
    if document.department_id:
        pairs.append((_("Department"), str(document.department)))
    if document.requisition_id:
        pairs.append((_("Requisition"), f"#{document.requisition_id}"))
    if document.reverses_id:
        pairs.append((_("Reverses"), str(document.reverses)))
    pairs += [
        (_("Operator"), user_display(document.operator)),
        (
            _("Posted at"),
            timezone.localtime(document.posted_at).strftime("%Y-%m-%d %H:%M")
            if document.posted_at
            else EMPTY,
        ),
    ]
    if len(pairs) % 2:
        pairs.append(("", ""))
    rows = []
    for i in range(0, len(pairs), 2):
        (a, b), (c, d) = pairs[i], pairs[i + 1]
        rows.append([p(a), p(b), p(c), p(d)])
    return rows


def _render(document: Document, lines: list) -> bytes:
    font = label_font()
    st = _styles(font)
    organisation = settings.ORGANISATION_NAME
    title = str(TITLES.get(document.type, document.get_type_display()))

    def p(text, style="base"):
        return Paragraph(escape(str(text)), st[style])

    width = A4[0] - 36 * mm
    story = [p(organisation, "org"), p(title, "title")]

    info = Table(
        _header_rows(document, p),
        colWidths=[0.15 * width, 0.35 * width, 0.15 * width, 0.35 * width],
    )
    info.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                ("BACKGROUND", (2, 0), (2, -1), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [info, Spacer(1, 6 * mm)]

    adjustment = document.type == DocumentType.ADJUSTMENT
    head = ["#", _("Item code"), _("Name"), _("Specification"), _("Unit")]
    if adjustment:
        head.append(_("Direction"))
    head += [_("Quantity"), _("Unit cost (CNY)"), _("Amount (CNY)")]
    rows = [[p(h, "head") for h in head]]
    total_qty, total_amount = ZERO, ZERO
    for n, line in enumerate(lines, start=1):
        row = [
            p(n, "small"),
            p(line.item.code, "small"),
            p(line.item.name, "small"),
            p(line.item.spec or EMPTY, "small"),
            p(line.item.unit, "small"),
        ]
        if adjustment:
            row.append(p(_("In") if line.direction == Direction.IN else _("Out"), "small"))
        row += [
            p(format_quantity(line.quantity), "num"),
            p(_money(line.unit_cost, 4), "num"),
            p(_money(line.amount), "num"),
        ]
        rows.append(row)
        total_qty += line.quantity
        total_amount += line.amount or ZERO
    label_span = len(head) - 3
    total_row = [p(_("Total"), "head")] + [""] * (label_span - 1)
    total_row += [p(format_quantity(total_qty), "num"), "", p(_money(total_amount), "num")]
    rows.append(total_row)
    if adjustment:
        widths = [0.05, 0.14, 0.2, 0.14, 0.07, 0.08, 0.1, 0.11, 0.11]
    else:
        widths = [0.05, 0.15, 0.24, 0.16, 0.07, 0.1, 0.11, 0.12]
    table = Table(rows, colWidths=[w * width for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("SPAN", (0, len(rows) - 1), (label_span - 1, len(rows) - 1)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [table, Spacer(1, 4 * mm)]
    if document.reason:
        story.append(p(f"{_('Note')}：{document.reason}", "small"))
    story.append(Spacer(1, 12 * mm))

    labels = [str(x) for x in SIGNATURES.get(document.type, DEFAULT_SIGNATURES)]
    cells = []
    for label in labels:
        cells += [p(f"{label}：", "small"), ""]
    signatures = Table([cells], colWidths=[0.13 * width, 0.2 * width] * 3, rowHeights=[12 * mm])
    signatures.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                *[("LINEBELOW", (c, 0), (c, 0), 0.6, colors.black) for c in (1, 3, 5)],
            ]
        )
    )
    story.append(signatures)
    story += [Spacer(1, 8 * mm), p(f"{_('Date')}：", "small")]

    number = document.number or str(document.pk)
    return build_pdf(
        story,
        title=f"{title} {number}",
        author=organisation,
        font=font,
        footer_right=lambda page: f"{number} · {page}",
    )
