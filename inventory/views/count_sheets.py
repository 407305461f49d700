"""Count sheets of consumable stocktakes (盘点表): the sheets of a stocktake, one sheet's
lines with inline entry of counted quantities (htmx: the row posts and is swapped), and a
barcode box that counts one more of the item scanned.

Authorisation: the stocktake must be visible to the user (``stocktake_get``: keepers,
clerks, auditors, administrators and its counters; else 404) and be a consumable one (404).
Entering counts needs ``count_sheets.sheet_may_count`` (its keepers and administrators, and
the counters assigned to the sheet's warehouse; else 403); auditors and clerks read only.
Counting is possible while the stocktake counts; afterwards the sheet shows the movements
since the freeze, the variance and its value, and the documents posted.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ..models_stocktake import CountLine, CountSheet, Stocktake
from ..selectors_stocktake import stocktake_get
from ..services.count_sheets import (
    count_line_set,
    count_sheet_scan,
    sheet_documents,
    sheet_may_count,
)
from .common import href, pager, paginate, state_pairs, vary_on_htmx, wants_fragment

LIST_TEMPLATE = "inventory/countsheet_list.html"
DETAIL_TEMPLATE = "inventory/countsheet_detail.html"
FILTER_KEYS = ("q", "todo")
COUNTED = "countLineSaved"


def _stocktake(request, pk: int) -> Stocktake:
    try:
        stocktake = stocktake_get(user=request.user, pk=pk)
    except Stocktake.DoesNotExist:
        raise Http404 from None
    if stocktake.kind != Stocktake.Kind.CONSUMABLE:
        raise Http404
    return stocktake


def _sheet(request, pk: int, sheet_pk: int) -> tuple[Stocktake, CountSheet]:
    stocktake = _stocktake(request, pk)
    sheet = get_object_or_404(
        CountSheet.objects.select_related("warehouse__location", "posted_by"),
        pk=sheet_pk,
        stocktake=stocktake,
    )
    return stocktake, sheet


def _open(stocktake: Stocktake, sheet: CountSheet) -> bool:
    return stocktake.status == Stocktake.Status.COUNTING and sheet.status == "counting"


@login_required
@require_GET
def sheet_list(request, pk: int):
    """``/inventory/stocktakes/<pk>/sheets/``: one row per warehouse with its progress."""
    stocktake = _stocktake(request, pk)
    sheets = list(
        CountSheet.objects.filter(stocktake=stocktake)
        .select_related("warehouse__location", "gain_document", "loss_document")
        .annotate(
            total=Count("lines"),
            counted=Count("lines", filter=Q(lines__counted_quantity__isnull=False)),
            gains=Count("lines", filter=Q(lines__variance__gt=0)),
            losses=Count("lines", filter=Q(lines__variance__lt=0)),
            value=Sum("lines__variance_value"),
        )
        .order_by("warehouse__location__path")
    )
    context = {"stocktake": stocktake, "sheets": sheets}
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{LIST_TEMPLATE}#sheet-table", context))
    return vary_on_htmx(render(request, LIST_TEMPLATE, context))


def _lines(sheet: CountSheet, params):
    qs = CountLine.objects.filter(sheet=sheet).select_related("item", "counted_by")
    q = (params.get("q") or "").strip()[:100]
    if q:
        qs = qs.filter(
            Q(item__code__istartswith=q) | Q(item__barcode=q) | Q(item__name__icontains=q)
        )
    if params.get("todo") == "1":
        qs = qs.filter(counted_quantity__isnull=True)
    return qs.order_by("item__code")


def _detail_context(request, stocktake, sheet) -> dict:
    page = paginate(_lines(sheet, request.GET), request.GET)
    base = reverse("inventory:countsheet_detail", args=[stocktake.pk, sheet.pk])
    pairs = state_pairs(request.GET, FILTER_KEYS)
    totals = CountLine.objects.filter(sheet=sheet).aggregate(
        total=Count("id"),
        counted=Count("id", filter=Q(counted_quantity__isnull=False)),
        value=Sum("variance_value"),
    )
    may_count = _open(stocktake, sheet) and sheet_may_count(request.user, sheet)
    return {
        "stocktake": stocktake,
        "sheet": sheet,
        "lines": page.object_list,
        "pager": pager(page, base, pairs),
        "state_url": href(base, pairs, page=page.number if page.number > 1 else None),
        "q": request.GET.get("q", ""),
        "todo": request.GET.get("todo") == "1",
        "totals": totals,
        "posted": sheet.status == CountSheet.Status.POSTED,
        "documents": sheet_documents(sheet) if sheet.status == CountSheet.Status.POSTED else [],
        "may_count": may_count,
        "scan_id": uuid.uuid4(),
    }


@login_required
@require_GET
def sheet_detail(request, pk: int, sheet_pk: int):
    """``/inventory/stocktakes/<pk>/sheets/<sheet_pk>/``: the lines, filtered (``q``, ``todo``)
    and paged; an htmx request gets the table only."""
    stocktake, sheet = _sheet(request, pk, sheet_pk)
    context = _detail_context(request, stocktake, sheet)
    if wants_fragment(request):
        response = render(request, f"{DETAIL_TEMPLATE}#sheet-lines", context)
        response["HX-Push-Url"] = context["state_url"]
    else:
        response = render(request, DETAIL_TEMPLATE, context)
    return vary_on_htmx(response)


def _require_may_count(request, stocktake, sheet) -> None:
    if not sheet_may_count(request.user, sheet):
        raise PermissionDenied


@login_required
@require_POST
def line_set(request, pk: int, sheet_pk: int, line_pk: int):
    """Save one counted quantity; htmx gets the row back (with the error, if any)."""
    stocktake, sheet = _sheet(request, pk, sheet_pk)
    _require_may_count(request, stocktake, sheet)
    line = get_object_or_404(CountLine.objects.select_related("item"), pk=line_pk, sheet=sheet)
    error = ""
    try:
        line = count_line_set(line=line, actor=request.user, quantity=request.POST.get("counted"))
    except ValidationError as exc:
        error = " ".join(exc.messages)
    url = reverse("inventory:countsheet_detail", args=[stocktake.pk, sheet.pk])
    if not request.htmx:
        if error:
            messages.error(request, f"{line.item}: {error}")
        return redirect(url)
    stocktake.refresh_from_db(fields=["status"])
    sheet.refresh_from_db(fields=["status"])
    context = {
        "stocktake": stocktake,
        "sheet": sheet,
        "line": line,
        "error": error,
        "entered": request.POST.get("counted", "") if error else None,
        "saved": not error,
        "may_count": _open(stocktake, sheet),
    }
    response = render(request, f"{DETAIL_TEMPLATE}#countline-row", context)
    if not error:
        response["HX-Trigger"] = COUNTED
    return response


@login_required
@require_POST
def sheet_scan(request, pk: int, sheet_pk: int):
    """A barcode scanned (or typed) into the sheet's scan box: one more of that item."""
    stocktake, sheet = _sheet(request, pk, sheet_pk)
    _require_may_count(request, stocktake, sheet)
    result = error = None
    try:
        result = count_sheet_scan(
            sheet=sheet,
            actor=request.user,
            code=request.POST.get("code"),
            scan_id=request.POST.get("scan_id"),
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
    url = reverse("inventory:countsheet_detail", args=[stocktake.pk, sheet.pk])
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, result.message)
        return redirect(url)
    context = {
        "stocktake": stocktake,
        "sheet": sheet,
        "scan": result,
        "error": error,
        "scan_id": uuid.uuid4(),
        "may_count": True,
        "line": result.line if result else None,
        "oob_row": result is not None,
    }
    return render(request, f"{DETAIL_TEMPLATE}#scan-box", context)
