"""The closing report of an asset stocktake (资产盘点报告) as an A4 PDF: rendering only.

``render_stocktake_report(report)`` lays out the organisation, the title, the stocktake's
name, scope, dates and who started and closed it; the summary per result with counts and
values; the table per expected location; then every discrepancy line (missing, location
differs, holder differs, unexpected, unknown codes) and signature lines for the counters,
the reviewer and the person in charge. Assets found as expected are counted, not listed
(there may be tens of thousands: the Excel export lists them).

Like the handover receipt (``assets.handover_pdf``) it embeds the CJK TrueType font of the
labels (WenQuanYi Zen Hei, ``LABEL_FONT_PATH``) and is written in the site's language.
"""

from __future__ import annotations

from decimal import Decimal
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    CondPageBreak,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from assets.labels import label_font
from itassets.pdf import build_pdf, local_time, user_display

from .models_stocktake import StocktakeExpected
from .services.stocktake_results import (
    APPLIED_LABELS,
    UNKNOWN,
    StocktakeReport,
    person_label,
    report_line_values,
    report_unknown_codes,
)

EMPTY = "—"
ROWS_PER_TABLE = 40
PAGE = landscape(A4)
MARGIN = 14 * mm
Result = StocktakeExpected.Result
# Sections listed line by line (found assets are only counted).
LISTED = (Result.MISSING, Result.LOCATION_MISMATCH, Result.HOLDER_MISMATCH, Result.UNEXPECTED)


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "num": ParagraphStyle("num", parent=base, fontSize=8, leading=10, alignment=TA_RIGHT),
        "org": ParagraphStyle("org", parent=base, fontSize=12, leading=16, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER, spaceAfter=3 * mm
        ),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=11, leading=15, spaceBefore=4 * mm, spaceAfter=2 * mm
        ),
    }


def _money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


def _grid(rows, widths, *, header_rows: int = 1) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def render_stocktake_report(report: StocktakeReport) -> bytes:
    """The report as PDF bytes."""
    with translation.override(settings.LANGUAGE_CODE):
        return _render(report)


def _render(report: StocktakeReport) -> bytes:
    font = label_font()
    st = _styles(font)
    stocktake = report.stocktake
    organisation = settings.ORGANISATION_NAME
    width = PAGE[0] - 2 * MARGIN

    def p(text, style="base"):
        return Paragraph(escape(str(text)), st[style])

    title = _("Asset stocktake report")
    story = [p(organisation, "org"), p(title, "title")]

    scope = report.scope
    scope_text = "；".join(
        f"{label}：{'、'.join(names)}"
        for label, names in (
            (_("Locations"), scope.get("locations")),
            (_("Departments"), scope.get("departments")),
            (_("Categories"), scope.get("categories")),
        )
        if names
    ) or _("All assets")
    info = [
        [p(_("Stocktake")), p(stocktake.name), p(_("Status")), p(stocktake.get_status_display())],
        [p(_("Scope")), p(scope_text), p(_("Deadline")), p(stocktake.deadline or EMPTY)],
        [
            p(_("Started")),
            p(f"{local_time(stocktake.started_at)} · {user_display(stocktake.started_by)}"),
            p(_("Closed")),
            p(f"{local_time(stocktake.closed_at)} · {user_display(stocktake.closed_by)}"),
        ],
    ]
    if stocktake.applied_at:
        info.append(
            [
                p(_("Results applied")),
                p(f"{local_time(stocktake.applied_at)} · {user_display(stocktake.applied_by)}"),
                p(""),
                p(""),
            ]
        )
    info_table = Table(info, colWidths=[0.12 * width, 0.46 * width, 0.12 * width, 0.3 * width])
    info_table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                ("BACKGROUND", (2, 0), (2, -1), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [info_table, Spacer(1, 4 * mm)]

    # Summary per result.
    rows = [[p(pgettext("stocktake", "Result")), p(_("Count"), "num"), p(_("Value (CNY)"), "num")]]
    rows.append(
        [p(_("Expected")), p(report.expected, "num"), p(_money(report.expected_value), "num")]
    )
    rows.append(
        [
            p(_("Found (%(percent)s%%)") % {"percent": report.found_percent}),
            p(report.found, "num"),
            p(_money(report.found_value), "num"),
        ]
    )
    for section in report.sections:
        value = "" if section.key == UNKNOWN else _money(section.value)
        rows.append([p(section.label), p(section.count, "num"), p(value, "num")])
    if report.self_confirmed:
        rows.append(
            [p(_("of which confirmed by their holders")), p(report.self_confirmed, "num"), p("")]
        )
    story += [
        p(_("Summary"), "h2"),
        _grid(rows, [0.5 * width, 0.2 * width, 0.3 * width]),
    ]

    if report.by_location:
        rows = [
            [
                p(_("Expected location")),
                p(_("Expected"), "num"),
                p(pgettext("stocktake", "Found"), "num"),
                p(_("Missing"), "num"),
                p(_("Missing value (CNY)"), "num"),
            ]
        ]
        for row in report.by_location:
            rows.append(
                [
                    p(row["expected_location__full_name"] or _("No location"), "small"),
                    p(row["expected"], "num"),
                    p(row["found"], "num"),
                    p(row["missing"], "num"),
                    p(_money(row["missing_value"]), "num"),
                ]
            )
        story += [
            p(_("By location"), "h2"),
            _grid(rows, [0.48 * width, 0.13 * width, 0.13 * width, 0.13 * width, 0.13 * width]),
        ]

    show_outcome = bool(report.outcomes)
    for key in LISTED:
        section = report.section(key)
        if not section.count:
            continue
        story += [CondPageBreak(30 * mm), p(f"{section.label}（{section.count}）", "h2")]
        story += _lines_table(report, key, p, width, show_outcome)
    unknown = report.section(UNKNOWN)
    if unknown.count:
        story += [CondPageBreak(30 * mm), p(f"{unknown.label}（{unknown.count}）", "h2")]
        rows = [
            [
                p(_("Code scanned")),
                p(_("Times"), "num"),
                p(_("First scanned")),
                p(_("Location")),
                p(_("Note")),
            ]
        ]
        for row in report_unknown_codes(stocktake=stocktake).iterator(chunk_size=2000):
            rows.append(
                [
                    p(row["raw_code"], "small"),
                    p(row["times"], "num"),
                    p(local_time(row["first_at"]), "small"),
                    p(row["location"] or EMPTY, "small"),
                    p(row["note"] or "", "small"),
                ]
            )
        story.append(
            _grid(rows, [0.28 * width, 0.08 * width, 0.16 * width, 0.22 * width, 0.26 * width])
        )
    found = report.section(Result.FOUND)
    story += [
        Spacer(1, 4 * mm),
        p(
            _(
                "%(n)s asset(s) were found as expected; they are listed in the Excel export of "
                "this report."
            )
            % {"n": found.count},
            "small",
        ),
        Spacer(1, 12 * mm),
    ]

    labels = [_("Counted by"), _("Checked by"), _("Approved by"), _("Date")]
    cells = []
    for label in labels:
        cells += [p(f"{label}：", "small"), ""]
    signatures = Table(
        [cells], colWidths=[0.09 * width, 0.16 * width] * len(labels), rowHeights=[12 * mm]
    )
    signatures.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                *[("LINEBELOW", (c, 0), (c, 0), 0.6, colors.black) for c in (1, 3, 5, 7)],
            ]
        )
    )
    story.append(signatures)

    return build_pdf(
        story,
        title=f"{title} {stocktake.name}",
        author=organisation,
        font=font,
        footer_left=f"{stocktake.name} · {local_time(timezone.now())}",
        footer_right=str,
        pagesize=PAGE,
        margin=MARGIN,
        footer_y=8 * mm,
    )


def _fit(text, width: float, font: str, size: float, *, keep_end: bool = False) -> str:
    """``text`` cut (with …) to fit ``width`` points: plain table cells are much faster to
    lay out than paragraphs, which matters for thousands of lines."""
    text = str(text)
    room = width - 4  # the cell's padding
    if len(text) * size <= room:  # no glyph is wider than 1 em: fits without measuring
        return text
    if stringWidth(text, font, size) <= room:
        return text
    while text and stringWidth("…" + text if keep_end else text + "…", font, size) > room:
        text = text[1:] if keep_end else text[:-1]
    return "…" + text if keep_end else text + "…"


def _lines_table(report: StocktakeReport, key: str, p, width: float, show_outcome: bool):
    """The section's lines as tables of ``ROWS_PER_TABLE`` rows (each with the header):
    reportlab splits one long table across pages in quadratic time."""
    font = label_font()
    head = [
        _("Asset tag"),
        _("Name"),
        _("Expected location"),
        _("Expected holder"),
        _("Found at"),
        _("Observed holder"),
        _("Value (CNY)"),
    ]
    widths = [0.12, 0.17, 0.17, 0.1, 0.15, 0.1, 0.09]
    if show_outcome:
        head.append(_("Outcome"))
        widths = [0.11, 0.14, 0.14, 0.09, 0.13, 0.09, 0.08, 0.22]
    widths = [w * width for w in widths]
    header = [p(h, "num" if n == 6 else "small") for n, h in enumerate(head)]
    style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("LEADING", (0, 0), (-1, -1), 10),
            ("ALIGN", (6, 1), (6, -1), "RIGHT"),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )

    def cell(value, column, *, keep_end=False):
        return _fit(value or EMPTY, widths[column], font, 8, keep_end=keep_end)

    tables, rows = [], []
    for line in report_line_values(stocktake=report.stocktake, section=key):
        cost = line["cost"]
        row = [
            cell(line["tag"], 0),
            cell(line["asset__name"], 1),
            cell(line["expected_location__full_name"], 2, keep_end=True),
            cell(
                person_label(line["expected_holder__name"], line["expected_holder__employee_no"]),
                3,
            ),
            cell(line["found_location__full_name"], 4, keep_end=True),
            cell(
                person_label(line["observed_holder__name"], line["observed_holder__employee_no"]),
                5,
            ),
            _money(cost) if cost is not None else EMPTY,
        ]
        if show_outcome:
            action, note = line["applied_action"], line["apply_note"]
            text = str(APPLIED_LABELS.get(action, action)) if action else EMPTY
            if note:
                text = f"{text}：{note}"
            row.append(p(text, "small") if note else cell(text, 7))
        rows.append(row)
        if len(rows) == ROWS_PER_TABLE:
            tables.append(Table([header, *rows], colWidths=widths, style=style))
            rows = []
    if rows or not tables:
        tables.append(Table([header, *rows], colWidths=widths, style=style))
    return tables
