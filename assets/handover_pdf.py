"""The handover receipt (交接单) as an A4 PDF: rendering only, no writes.

``render_handover(handover)`` lays out the organisation, the receipt number and date, the
action (assign, loan, transfer, return), who hands over and who receives (person and
department), the location, the list of assets (tag, name, model, serial number), signature
lines for both sides and, once given, the recipient's confirmation (who and when).

Chinese needs an embedded TrueType CJK font: the one the QR labels use
(``assets.labels.label_font``, settings ``LABEL_FONT_PATH``). The receipt is a document of the
organisation, so it is written in the site's language (``LANGUAGE_CODE``) whatever the
language of the user who triggers it.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from itassets.pdf import build_pdf, local_time, user_display

from .labels import label_font
from .lifecycle import TRANSITIONS

EMPTY = "—"


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=12),
        "org": ParagraphStyle("org", parent=base, fontSize=12, leading=16, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER, spaceAfter=4 * mm
        ),
        "head": ParagraphStyle("head", parent=base, fontSize=9, leading=12),
    }


def _party(person, department, *, stock: str) -> str:
    """A side of the handover; nobody on a side means the store (库存)."""
    parts = [str(person) if person else "", getattr(department, "full_name", "") or ""]
    return " · ".join(p for p in parts if p) or stock


def handover_assets(handover) -> list:
    """The assets on the receipt, in tag order (one query)."""
    from .models import Asset

    return list(
        Asset.objects.filter(events__handover=handover)
        .select_related("model")
        .distinct()
        .order_by("tag")
    )


def render_handover(handover, *, assets: list | None = None) -> bytes:
    """The receipt as PDF bytes; ``assets`` defaults to those of the handover's events."""
    if assets is None:
        assets = handover_assets(handover)
    with translation.override(settings.LANGUAGE_CODE):
        return _render(handover, assets)


def _render(handover, assets: list) -> bytes:
    font = label_font()
    st = _styles(font)
    transition = TRANSITIONS.get(handover.transition)
    action = str(transition.label) if transition else handover.transition
    organisation = settings.ORGANISATION_NAME

    def p(text, style="base"):
        return Paragraph(escape(str(text)), st[style])

    story = [
        p(organisation, "org"),
        p(_("Asset handover receipt"), "title"),
    ]
    stock = _("Stock")
    info = [
        [p(_("Number")), p(handover.number), p(_("Date")), p(local_time(handover.created_at))],
        [p(_("Action")), p(action), p(_("Location")), p(handover.location or EMPTY)],
        [
            p(_("Handed over by")),
            p(_party(handover.from_person, handover.from_department, stock=stock)),
            p(_("Received by")),
            p(_party(handover.to_person, handover.to_department, stock=stock)),
        ],
        [p(_("Prepared by")), p(user_display(handover.created_by)), p(""), p("")],
    ]
    width = A4[0] - 36 * mm
    info_table = Table(info, colWidths=[0.14 * width, 0.36 * width, 0.14 * width, 0.36 * width])
    info_table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                ("BACKGROUND", (2, 0), (2, -1), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [info_table, Spacer(1, 6 * mm)]

    rows = [[p("#", "head"), p(_("Asset tag"), "head"), p(_("Name"), "head")]]
    rows[0] += [p(_("Model"), "head"), p(_("Serial number"), "head")]
    for n, asset in enumerate(assets, start=1):
        rows.append(
            [
                p(n, "small"),
                p(asset.tag, "small"),
                p(asset.name, "small"),
                p(asset.model.name if asset.model_id else EMPTY, "small"),
                p(asset.serial_number or EMPTY, "small"),
            ]
        )
    asset_table = Table(
        rows,
        colWidths=[0.06 * width, 0.2 * width, 0.3 * width, 0.22 * width, 0.22 * width],
        repeatRows=1,
    )
    asset_table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [asset_table, Spacer(1, 6 * mm)]
    story.append(
        p(
            _("%(count)s asset(s). Both sides confirm the assets above were handed over.")
            % {"count": len(assets)},
            "small",
        )
    )
    story.append(Spacer(1, 12 * mm))

    # Signature lines: label, then a blank ruled cell to sign on (交付人 / 接收人 / 日期).
    labels = [_("Handed over by"), _("Received by"), _("Date")]
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
    if handover.accepted_at:
        story += [
            Spacer(1, 8 * mm),
            p(
                _("Receipt confirmed online by %(name)s at %(time)s.")
                % {
                    "name": user_display(handover.accepted_by),
                    "time": local_time(handover.accepted_at),
                }
            ),
        ]
    elif handover.needs_acceptance:
        story += [
            Spacer(1, 8 * mm),
            p(_("Awaiting the recipient's confirmation of receipt."), "small"),
        ]

    return build_pdf(
        story,
        title=f"{_('Asset handover receipt')} {handover.number}",
        author=organisation,
        font=font,
        footer_right=lambda page: f"{handover.number} · {page}",
    )
