"""The closing report of an asset stocktake (``/inventory/stocktakes/<pk>/report/``), its
Excel and PDF downloads, and applying the results (POST ``…/apply/``).

Authorisation: the report needs ``inventory.view_stocktake`` (clerks, keepers, auditors,
administrators) and a stocktake the user may see (``selectors_stocktake.stocktake_get``,
else 404); applying needs a manager of asset stocktakes (clerks, administrators; else 403).
A stocktake that is not closed has no report yet (404). The page shows each section's first
page of lines; an htmx request with ``?section=…&page=…`` gets that section only.
"""

from __future__ import annotations

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from itassets.exports import XLSX_CONTENT_TYPE

from ..models_stocktake import Stocktake
from ..selectors_stocktake import stocktake_get
from ..services.stocktake_results import (
    APPLIED_BADGE,
    SECTIONS,
    UNKNOWN,
    report_available,
    report_lines_page,
    report_unknown_codes,
    stocktake_apply,
)
from ..services.stocktake_results import stocktake_report as report_build
from ..services.stocktakes import may_manage
from ..stocktake_export import write_report_xlsx
from ..stocktake_pdf import render_stocktake_report
from .common import href, vary_on_htmx, wants_fragment

TEMPLATE = "inventory/stocktake_report.html"
PERM_VIEW = "inventory.view_stocktake"
PER_PAGE = 50
APPLIED = "stocktakeApplied"


def _visible(request, pk: int) -> Stocktake:
    if not request.user.has_perm(PERM_VIEW):
        raise PermissionDenied
    try:
        return stocktake_get(user=request.user, pk=pk)
    except Stocktake.DoesNotExist:
        raise Http404 from None


def _reportable(request, pk: int) -> Stocktake:
    stocktake = _visible(request, pk)
    if not report_available(stocktake):
        raise Http404
    return stocktake


class SectionPage:
    """One page of a section's rows; the row count is the report's (no COUNT query)."""

    def __init__(self, section, rows, *, number: int, base: str):
        self.section = section
        self.number = number
        self.num_pages = max(1, -(-section.count // PER_PAGE))
        self.rows = rows
        self.start = (number - 1) * PER_PAGE + 1 if section.count else 0
        self.end = min(number * PER_PAGE, section.count)

        def link(n):
            return href(base, [("section", section.key)], page=n)

        self.previous = link(number - 1) if number > 1 else None
        self.next = link(number + 1) if number < self.num_pages else None


def _page_number(raw, section) -> int:
    try:
        number = int(raw or 1)
    except (TypeError, ValueError):
        number = 1
    last = max(1, -(-section.count // PER_PAGE))
    return min(max(number, 1), last)


def _section_page(stocktake, section, number: int, base: str) -> SectionPage:
    offset = (number - 1) * PER_PAGE
    if not section.count:
        rows = []
    elif section.key == UNKNOWN:
        rows = list(report_unknown_codes(stocktake=stocktake)[offset : offset + PER_PAGE])
    else:
        rows = report_lines_page(
            stocktake=stocktake, section=section.key, offset=offset, limit=PER_PAGE
        )
        for line in rows:
            line.outcome_badge = APPLIED_BADGE.get(line.applied_action, "secondary")
    return SectionPage(section, rows, number=number, base=base)


@login_required
@require_GET
def stocktake_report(request, pk: int):
    """The report page: summary, by location, each section's lines (first page)."""
    stocktake = _visible(request, pk)
    if stocktake.kind == Stocktake.Kind.CONSUMABLE and stocktake.status != "draft":
        return redirect("inventory:stocktake_sheets", pk=stocktake.pk)
    if not report_available(stocktake):
        raise Http404
    base = reverse("inventory:stocktake_report", args=[stocktake.pk])
    wanted = request.GET.get("section")
    if wanted and wanted in SECTIONS and wants_fragment(request):
        report = report_build(stocktake=stocktake, scope=False)
        section = report.section(wanted)
        page = _section_page(
            stocktake, section, _page_number(request.GET.get("page"), section), base
        )
        context = {"stocktake": stocktake, "report": report, "sp": page}
        return vary_on_htmx(render(request, f"{TEMPLATE}#report-section", context))
    return vary_on_htmx(render(request, TEMPLATE, _context(request, stocktake, base)))


def _context(request, stocktake, base: str) -> dict:
    report = report_build(stocktake=stocktake)
    wanted = request.GET.get("section")
    pages = []
    for section in report.sections:
        number = _page_number(request.GET.get("page"), section) if wanted == section.key else 1
        pages.append(_section_page(stocktake, section, number, base))
    return {
        "stocktake": stocktake,
        "report": report,
        "pages": pages,
        "may_apply": stocktake.status == Stocktake.Status.CLOSED
        and may_manage(request.user, Stocktake.Kind.ASSET),
    }


def _download(body: bytes, *, content_type: str, stocktake, ext: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    name = f"stocktake-{stocktake.pk}-report.{ext}"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@login_required
@require_GET
def stocktake_report_xlsx(request, pk: int):
    stocktake = _reportable(request, pk)
    out = io.BytesIO()
    write_report_xlsx(report_build(stocktake=stocktake, scope=False), out)
    return _download(
        out.getvalue(), content_type=XLSX_CONTENT_TYPE, stocktake=stocktake, ext="xlsx"
    )


@login_required
@require_GET
def stocktake_report_pdf(request, pk: int):
    stocktake = _reportable(request, pk)
    pdf = render_stocktake_report(report_build(stocktake=stocktake))
    response = _download(pdf, content_type="application/pdf", stocktake=stocktake, ext="pdf")
    response["Content-Disposition"] = content_disposition_header(
        False, f"stocktake-{stocktake.pk}-report.pdf"
    )
    return response


@login_required
@require_POST
def stocktake_apply_view(request, pk: int):
    """Apply the results (managers of asset stocktakes); then the report again."""
    if not may_manage(request.user, Stocktake.Kind.ASSET):
        raise PermissionDenied
    stocktake = _reportable(request, pk)
    try:
        result = stocktake_apply(stocktake=stocktake, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        level = messages.INFO if result.replayed else messages.SUCCESS
        messages.add_message(request, level, result.message)
    base = reverse("inventory:stocktake_report", args=[stocktake.pk])
    if not request.htmx:
        return redirect(base)
    stocktake.refresh_from_db()
    context = {**_context(request, stocktake, base), "oob_messages": True}
    response = render(request, f"{TEMPLATE}#report-body", context)
    response["HX-Trigger"] = APPLIED
    return response
