"""``/inventory/low-stock/``: (item, warehouse) balances below the item's safety stock, with the
suggested reorder quantity (maximum − on hand), and its Excel export.

Authorisation: ``inventory.view_stock`` (keepers, clerks, administrators, auditors).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from itassets.exports import export_response

from .. import selectors
from ..filters import LowStockFilterForm, active_warehouses
from .common import (
    VIEW_STOCK,
    href,
    pager,
    paginate,
    require_perm,
    state_pairs,
    vary_on_htmx,
    wants_fragment,
)

TEMPLATE = "inventory/low_stock.html"
FILTER_KEYS = ("warehouse", "category")
PER_PAGE = 100


def _rows(filters: dict):
    return selectors.low_stock_list(
        warehouse=filters.get("warehouse"), category=filters.get("category")
    )


@login_required
@require_GET
def low_stock(request):
    """The items to reorder, per warehouse; htmx gets only the table."""
    require_perm(request.user, VIEW_STOCK)
    form = LowStockFilterForm(request.GET, warehouses=active_warehouses())
    filters = form.filters
    page = paginate(_rows(filters), request.GET, per_page=PER_PAGE)
    base = reverse("inventory:low_stock")
    pairs = state_pairs(request.GET, FILTER_KEYS)
    context = {
        "form": form,
        "rows": page.object_list,
        "pager": pager(page, base, pairs),
        "export_query": href("", pairs),
        "state_url": href(base, pairs, page=page.number if page.number > 1 else None),
    }
    if wants_fragment(request):
        response = render(request, f"{TEMPLATE}#low-stock-table", context)
        response["HX-Push-Url"] = context["state_url"]
    else:
        response = render(request, TEMPLATE, context)
    return vary_on_htmx(response)


@login_required
@require_GET
def low_stock_export(request, fmt: str):
    """``/inventory/low-stock/export.xlsx`` (or ``.csv``) with the page's filters."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    require_perm(request.user, VIEW_STOCK)
    filters = LowStockFilterForm(request.GET, warehouses=active_warehouses()).filters
    header = [
        _("Warehouse"),
        _("Item code"),
        _("Name"),
        _("Specification"),
        _("Unit"),
        _("On hand"),
        _("Safety stock"),
        _("Maximum stock"),
        _("Suggested reorder"),
        _("Default supplier"),
    ]
    rows = (
        [
            str(s.warehouse),
            s.item.code,
            s.item.name,
            s.item.spec,
            s.item.unit,
            s.quantity,
            s.item.safety_stock,
            s.item.max_stock,
            s.suggested_reorder,
            str(s.item.default_supplier or ""),
        ]
        for s in _rows(filters).iterator(chunk_size=2000)
    )
    return export_response(
        header=header, rows=rows, fmt=fmt, basename="low-stock", title=_("Low stock")
    )
