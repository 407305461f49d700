"""Item pages: the list with live filters and stock per warehouse, its export, and the item
page with stock, moving average cost and the ledger (台账).

Authorisation: ``inventory.view_item`` (keepers, clerks, administrators, auditors); the
ledger also needs ``inventory.view_ledgerentry``. The catalog and balances are not scoped by
warehouse (see ``inventory.selectors``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from itassets.exports import export_response

from .. import selectors
from ..filters import ItemFilterForm, active_warehouses
from ..models import ZERO, DocumentType, format_quantity
from .common import (
    VIEW_ITEM,
    VIEW_LEDGER,
    href,
    pager,
    paginate,
    require_perm,
    state_pairs,
    vary_on_htmx,
    wants_fragment,
)

LIST_TEMPLATE = "inventory/item_list.html"
DETAIL_TEMPLATE = "inventory/item_detail.html"
FILTER_KEYS = ("q", "category", "warehouse", "below_safety", "active")
# Up to this many warehouses get a column each; with more, a cell lists where stock is.
MAX_WAREHOUSE_COLUMNS = 6
EXPORT_CHUNK = 500


def _warehouse_columns(warehouses: list, filters: dict) -> list:
    chosen = filters.get("warehouse")
    if chosen:
        return [w for w in warehouses if w.pk == chosen]
    return warehouses if len(warehouses) <= MAX_WAREHOUSE_COLUMNS else []


def list_context(request) -> dict:
    warehouses = active_warehouses()
    form = ItemFilterForm(request.GET, warehouses=warehouses)
    filters = form.filters
    page = paginate(selectors.item_list(filters=filters), request.GET)
    columns = _warehouse_columns(warehouses, filters)
    items = selectors.items_with_stock(page.object_list)
    for item in items:
        item.columns = [item.stock_by_warehouse.get(w.pk) for w in columns]
    base = reverse("inventory:item_list")
    pairs = state_pairs(request.GET, FILTER_KEYS)
    return {
        "form": form,
        "items": items,
        "columns": columns,
        "per_warehouse_cell": not columns,
        "pager": pager(page, base, pairs),
        "state_url": href(base, pairs, page=page.number if page.number > 1 else None),
        "export_query": href("", pairs),
        "filtered": bool(pairs),
    }


@login_required
@require_GET
def item_list(request):
    """``/inventory/items/``: the catalog with stock, filtered by the query string."""
    require_perm(request.user, VIEW_ITEM)
    context = list_context(request)
    if wants_fragment(request):
        response = render(request, f"{LIST_TEMPLATE}#item-table", context)
        response["HX-Push-Url"] = context["state_url"]
    else:
        response = render(request, LIST_TEMPLATE, context)
    return vary_on_htmx(response)


def _export_rows(items):
    """One row per (item, warehouse) stock row; an item without stock gets one row."""
    for item in items:
        base = [
            item.code,
            item.name,
            item.spec,
            item.unit,
            str(item.category) if item.category_id else "",
            item.barcode or "",
            item.safety_stock,
            item.max_stock,
        ]
        if not item.stock_rows:
            yield [*base, "", ZERO, ZERO, ZERO]
        for row in item.stock_rows:
            yield [*base, str(row.warehouse), row.quantity, row.average_cost, row.value]


def _export_items(filters):
    """Items in chunks, each chunk with its stock (two queries per chunk)."""
    qs = selectors.item_list(filters=filters)
    last = None
    while True:
        chunk = qs.filter(code__gt=last) if last is not None else qs
        batch = list(chunk[:EXPORT_CHUNK])
        if not batch:
            return
        yield from selectors.items_with_stock(batch, warehouse=filters.get("warehouse"))
        last = batch[-1].code


@login_required
@require_GET
def item_export(request, fmt: str):
    """``/inventory/items/export.xlsx`` (or ``.csv``): the filtered items with their stock."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    require_perm(request.user, VIEW_ITEM)
    filters = ItemFilterForm(request.GET, warehouses=active_warehouses()).filters
    header = [
        _("Item code"),
        _("Name"),
        _("Specification"),
        _("Unit"),
        _("Category"),
        _("Barcode"),
        _("Safety stock"),
        _("Maximum stock"),
        _("Warehouse"),
        _("On hand"),
        _("Average cost"),
        _("Stock value"),
    ]
    rows = _export_rows(_export_items(filters))
    return export_response(header=header, rows=rows, fmt=fmt, basename="items", title=_("Items"))


# --- Item page --------------------------------------------------------------------------------


def ledger_rows(entries) -> list[str]:
    """One ``<tr>`` per ledger entry (safe HTML, every value escaped). Rendered here rather
    than by a template loop: 50 rows of nine cells through template tags and filters cost
    several times the page's queries (see the ledger benchmark in bench/stock.py)."""
    head, tail = reverse("inventory:document_detail", args=[0]).rsplit("0", 1)
    types = {value: escape(label) for value, label in DocumentType.choices}
    rows = []
    for e in entries:
        document = e.document
        posted = timezone.localtime(e.posted_at).strftime("%Y-%m-%d %H:%M")
        quantity = format_quantity(e.quantity)
        sign, css = ("+", "text-success") if e.quantity > 0 else ("", "text-danger")
        rows.append(
            mark_safe(  # noqa: S308 (every value escaped)
                "<tr>"
                f'<td class="small text-nowrap">{posted}</td>'
                f'<td class="font-monospace text-nowrap"><a href="{head}{e.document_id}{tail}">'
                f"{escape(document.number or '')}</a></td>"
                f'<td class="small d-none d-md-table-cell">{types.get(document.type, "")}</td>'
                f'<td class="small">{escape(e.warehouse.name)}</td>'
                f'<td class="text-end font-monospace {css}">{sign}{quantity}</td>'
                '<td class="text-end font-monospace fw-semibold">'
                f"{format_quantity(e.balance_after)}</td>"
                '<td class="text-end font-monospace d-none d-lg-table-cell">'
                f"{e.unit_cost:,.4f}</td>"
                '<td class="text-end font-monospace d-none d-lg-table-cell">'
                f"{e.value_change:,.2f}</td>"
                '<td class="text-end font-monospace d-none d-sm-table-cell">'
                f"{e.value_after:,.2f}</td>"
                "</tr>"
            )
        )
    return rows


def _ledger_context(request, item, stock_rows) -> dict:
    warehouses = [row.warehouse for row in stock_rows]
    chosen = None
    raw = request.GET.get("warehouse") or ""
    if raw.isdigit():
        chosen = next((w for w in warehouses if w.pk == int(raw)), None)
    page = selectors.ledger_page(
        item=item,
        warehouse=chosen,
        before=request.GET.get("before"),
        after=request.GET.get("after"),
    )
    base = reverse("inventory:item_detail", args=[item.pk])
    pairs = [("warehouse", str(chosen.pk))] if chosen else []
    return {
        "ledger": page,
        "ledger_rows": ledger_rows(page.entries),
        "ledger_warehouses": warehouses,
        "ledger_warehouse": chosen,
        "ledger_older_url": href(base, pairs, before=page.older) if page.older else None,
        "ledger_newer_url": href(base, pairs, after=page.newer) if page.newer else None,
        "ledger_newest_url": href(base, pairs) if page.newer else None,
        "ledger_base": base,
    }


@login_required
@require_GET
def item_detail(request, pk: int):
    """``/inventory/items/<pk>/``: the item, its stock per warehouse (moving average cost,
    value) and its ledger, newest first, paged by keyset (``?before=`` / ``?after=``
    ids; ``?warehouse=`` one warehouse). An htmx request gets only the ledger."""
    require_perm(request.user, VIEW_ITEM, VIEW_LEDGER)
    item = selectors.item_get(pk=pk)
    if item is None:
        raise Http404
    stock_rows = selectors.item_stock(item=item)
    context = {"item": item, "stock_rows": stock_rows, **_ledger_context(request, item, stock_rows)}
    if wants_fragment(request):
        return vary_on_htmx(render(request, f"{DETAIL_TEMPLATE}#item-ledger", context))
    on_hand = sum((s.quantity for s in stock_rows), ZERO)
    value = sum((s.value for s in stock_rows), ZERO)
    context.update(
        {
            "on_hand": on_hand,
            "on_hand_text": format_quantity(on_hand),
            "total_value": value,
            "average": (value / on_hand).quantize(ZERO.scaleb(-4)) if on_hand else None,
            "below_safety": item.safety_stock > 0
            and any(s.quantity < item.safety_stock for s in stock_rows),
            "can_create": request.user.has_perm("inventory.add_document"),
        }
    )
    return vary_on_htmx(render(request, DETAIL_TEMPLATE, context))
