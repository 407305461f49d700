"""The closing report of an asset stocktake as an Excel workbook: a summary sheet, then one
sheet per section (every line, found ones included), streamed by ``itassets.xlsx`` with
formula-like text neutralised (a scanned code such as ``=HYPERLINK(...)`` stays text)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from assets.lifecycle import Status as AssetStatus
from itassets.xlsx import STYLE_BOLD, XlsxWriter

from .models_stocktake import StocktakeExpected
from .services.stocktake_results import (
    APPLIED_LABELS,
    UNKNOWN,
    StocktakeReport,
    person_label,
    report_line_values,
    report_unknown_codes,
)

CHUNK = 2000


def _local(value):
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def _bold(sheet, row: list) -> None:
    sheet.append(row, styles=[STYLE_BOLD] * len(row))


def write_report_xlsx(report: StocktakeReport, out) -> None:
    """Write the workbook into the binary file ``out``."""
    stocktake = report.stocktake
    statuses = dict(AssetStatus.choices)
    methods = dict(StocktakeExpected.Method.choices)
    with XlsxWriter(out, neutralise=True) as book:
        sheet = book.sheet(_("Summary"), widths=[36, 14, 18])
        _bold(sheet, [_("Stocktake"), stocktake.name, ""])
        sheet.append([_("Status"), stocktake.get_status_display(), ""])
        sheet.append([_("Started"), _local(stocktake.started_at), ""])
        sheet.append([_("Closed"), _local(stocktake.closed_at), ""])
        sheet.append([])
        _bold(sheet, [pgettext("stocktake", "Result"), _("Count"), _("Value (CNY)")])
        sheet.append([_("Expected"), report.expected, report.expected_value])
        sheet.append([pgettext("stocktake", "Found"), report.found, report.found_value])
        for section in report.sections:
            value = None if section.key == UNKNOWN else section.value
            sheet.append([section.label, section.count, value])
        sheet.append([_("of which confirmed by their holders"), report.self_confirmed, None])

        head = [
            _("Asset tag"),
            _("Name"),
            _("Category"),
            _("Status at start"),
            _("Expected location"),
            _("Expected holder"),
            _("Expected department"),
            _("Value (CNY)"),
            _("Found at"),
            _("Observed holder"),
            pgettext("stocktake", "Method"),
            _("Found on"),
            _("Found by"),
            _("Outcome"),
            _("Outcome note"),
        ]
        widths = [18, 26, 16, 12, 28, 12, 20, 12, 28, 12, 12, 18, 12, 22, 36]
        for section in report.sections:
            if section.key == UNKNOWN:
                continue
            sheet = book.sheet(section.label, widths=widths)
            _bold(sheet, head)
            for row in report_line_values(stocktake=stocktake, section=section.key, chunk=CHUNK):
                action = row["applied_action"]
                sheet.append(
                    [
                        row["tag"],
                        row["asset__name"],
                        row["asset__category__name"],
                        statuses.get(row["expected_status"], row["expected_status"]),
                        row["expected_location__full_name"] or "",
                        person_label(
                            row["expected_holder__name"], row["expected_holder__employee_no"]
                        ),
                        row["expected_department__full_name"] or "",
                        row["cost"],
                        row["found_location__full_name"] or "",
                        person_label(
                            row["observed_holder__name"], row["observed_holder__employee_no"]
                        ),
                        methods.get(row["method"], row["method"]),
                        _local(row["found_at"]),
                        " ".join(
                            filter(None, (row["found_by__first_name"], row["found_by__last_name"]))
                        )
                        or row["found_by__username"]
                        or "",
                        str(APPLIED_LABELS.get(action, action)) if action else "",
                        row["apply_note"],
                    ]
                )
        sheet = book.sheet(report.section(UNKNOWN).label, widths=[30, 8, 18, 28, 40])
        _bold(sheet, [_("Code scanned"), _("Times"), _("First scanned"), _("Location"), _("Note")])
        for row in report_unknown_codes(stocktake=stocktake).iterator(chunk_size=CHUNK):
            sheet.append(
                [
                    row["raw_code"],
                    row["times"],
                    _local(row["first_at"]),
                    row["location"] or "",
                    row["note"] or "",
                ]
            )
