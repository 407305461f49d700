"""Reads of the inventory app. Data scope is applied here and nowhere else.

- The catalog and stock balances are visible to every signed-in user who may use inventory
  pages (employees pick items for requisitions); documents are scoped: roles with the ALL
  scope see every document, keepers the documents of the warehouses they keep, others the
  documents issued to or returned by themselves.
- Every list returns a queryset with its relations loaded, so a page costs a fixed number of
  queries whatever the number of rows.
- The ledger (台账) is paginated by keyset on ``id`` (``ledger_page``): each page is one
  index range read on (item, id) or (item, warehouse, id), as fast at 1,000,000 entries as
  at 1,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from assets.models import Department
from assets.selectors import person_for
from assets.selectors_workflow import department_head_person_ids
from itassets.roles import ADMIN, Scope, has_role, user_scope

from .models import (
    Document,
    DocumentLine,
    Item,
    ItemCategory,
    LedgerEntry,
    Requisition,
    RequisitionLine,
    Stock,
    Warehouse,
)

LEDGER_PAGE_SIZE = 50
LEDGER_MAX_PAGE_SIZE = 200
ZERO = Decimal("0")


def _is_admin(user) -> bool:
    return bool(getattr(user, "is_superuser", False) or has_role(user, ADMIN))


# --- Warehouses -------------------------------------------------------------------------------


def warehouse_list(*, active_only: bool = True) -> QuerySet[Warehouse]:
    qs = Warehouse.objects.select_related("location")
    if active_only:
        qs = qs.filter(is_active=True, location__is_warehouse=True)
    return qs.order_by("location__path")


def warehouses_managed(*, user) -> QuerySet[Warehouse]:
    """The warehouses ``user`` may post documents for (all of them for administrators)."""
    qs = warehouse_list()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if _is_admin(user):
        return qs
    return qs.filter(keepers=user)


# --- Items and stock --------------------------------------------------------------------------


def category_subtree_ids(category: ItemCategory | int | None) -> list[int]:
    if category is None or category == "":
        return []
    node = (
        category
        if isinstance(category, ItemCategory)
        else ItemCategory.objects.filter(pk=category).first()
    )
    if node is None:
        return []
    return list(
        ItemCategory.objects.filter(path__startswith=node.path).values_list("id", flat=True)
    )


def _below_safety_q(warehouse_id=None) -> Q:
    """Items with a stock row (in ``warehouse_id``, or anywhere) below their safety stock."""
    low = Stock.objects.filter(item_id=OuterRef("pk"), quantity__lt=OuterRef("safety_stock"))
    if warehouse_id:
        low = low.filter(warehouse_id=warehouse_id)
    return Q(safety_stock__gt=0) & Q(Exists(low))


def item_list(*, filters: Mapping | None = None) -> QuerySet[Item]:
    """Items for the list page. Filters: ``q`` (code, barcode: exact or prefix; name, spec:
    substring), ``category`` (with its subcategories), ``warehouse`` (items stocked there),
    ``below_safety`` (in that warehouse, or in any), ``active`` ("1" default, "0", "all").
    Ordered by code. Attach stock with ``items_with_stock`` after paginating."""
    filters = filters or {}
    qs = Item.objects.select_related("category", "default_supplier")
    active = str(filters.get("active", "1"))
    if active in ("1", "true", "True"):
        qs = qs.filter(is_active=True)
    elif active in ("0", "false", "False"):
        qs = qs.filter(is_active=False)
    q = str(filters.get("q") or "").strip()
    if q:
        qs = qs.filter(
            Q(code__istartswith=q) | Q(barcode=q) | Q(name__icontains=q) | Q(spec__icontains=q)
        )
    category = filters.get("category")
    if category:
        qs = qs.filter(category_id__in=category_subtree_ids(category))
    warehouse = filters.get("warehouse") or None
    if warehouse:
        qs = qs.filter(Exists(Stock.objects.filter(item_id=OuterRef("pk"), warehouse_id=warehouse)))
    if str(filters.get("below_safety") or "") in ("1", "true", "True", "on"):
        qs = qs.filter(_below_safety_q(warehouse))
    return qs.order_by("code")


def items_with_stock(items, *, warehouse=None) -> list[Item]:
    """Attach to each item (a page of them) ``stock_rows`` (its Stock rows with warehouses, in
    warehouse order) and ``on_hand`` / ``stock_value`` totals: one query for the whole page."""
    items = list(items)
    if not items:
        return items
    rows = Stock.objects.filter(item_id__in=[i.pk for i in items]).select_related(
        "warehouse__location"
    )
    if warehouse:
        rows = rows.filter(warehouse_id=getattr(warehouse, "pk", warehouse))
    by_item: dict[int, list[Stock]] = {}
    for row in rows.order_by("warehouse__location__path"):
        by_item.setdefault(row.item_id, []).append(row)
    for item in items:
        item.stock_rows = by_item.get(item.pk, [])
        item.stock_by_warehouse = {s.warehouse_id: s for s in item.stock_rows}
        item.on_hand = sum((s.quantity for s in item.stock_rows), ZERO)
        item.stock_value = sum((s.value for s in item.stock_rows), ZERO)
        item.below_safety = item.safety_stock > 0 and any(
            s.quantity < item.safety_stock for s in item.stock_rows
        )
    return items


def item_get(*, pk=None, code: str | None = None, barcode: str | None = None) -> Item | None:
    """One item by id, code or barcode (a scanner may send either), with its relations."""
    qs = Item.objects.select_related("category", "default_supplier")
    if pk is not None:
        return qs.filter(pk=pk).first()
    if barcode:
        return qs.filter(barcode=barcode.strip()).first() or qs.filter(code=barcode.strip()).first()
    if code:
        return qs.filter(code=code.strip()).first()
    return None


def item_stock(*, item: Item) -> list[Stock]:
    return list(
        Stock.objects.filter(item=item)
        .select_related("warehouse__location")
        .order_by("warehouse__location__path")
    )


def low_stock_list(*, warehouse=None, category=None) -> QuerySet[Stock]:
    """(Item, warehouse) balances below the item's safety stock, with ``suggested_reorder``
    = reorder level − on hand, the reorder level being the maximum stock if set above the
    safety stock, else the safety stock. A warehouse carries an item once it has a stock row
    (its first receipt); active items only."""
    qs = (
        Stock.objects.filter(
            item__is_active=True,
            item__safety_stock__gt=0,
            quantity__lt=F("item__safety_stock"),
        )
        .select_related("item", "item__category", "item__default_supplier", "warehouse__location")
        .annotate(
            suggested_reorder=Greatest(F("item__max_stock"), F("item__safety_stock"))
            - F("quantity"),
            shortfall=F("item__safety_stock") - F("quantity"),
        )
    )
    if warehouse:
        qs = qs.filter(warehouse_id=getattr(warehouse, "pk", warehouse))
    if category:
        qs = qs.filter(item__category_id__in=category_subtree_ids(category))
    return qs.order_by("warehouse__location__path", "item__code")


def stock_totals(*, warehouse=None) -> dict:
    """Total stock value and number of stocked items (for dashboards)."""
    qs = Stock.objects.all()
    if warehouse:
        qs = qs.filter(warehouse_id=getattr(warehouse, "pk", warehouse))
    return qs.aggregate(
        value=Coalesce(Sum("value"), Value(ZERO)),
        items=Count("id"),
    )


# --- Ledger (台账) ----------------------------------------------------------------------------


@dataclass
class LedgerPage:
    """One page of ledger entries, newest first.

    ``older`` / ``newer`` are the cursors for the next and previous pages (None at the ends):
    pass them back as ``before`` / ``after``.
    """

    entries: list[LedgerEntry]
    older: int | None
    newer: int | None

    @property
    def has_older(self) -> bool:
        return self.older is not None

    @property
    def has_newer(self) -> bool:
        return self.newer is not None


def _cursor(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _ledger_relations(qs: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    """Documents and warehouses by prefetch, not join: with joins MariaDB may start from the
    small tables and sort every entry of the item instead of reading ``size`` index rows."""
    return qs.prefetch_related(
        Prefetch("document", queryset=Document.objects.all()),
        Prefetch("warehouse", queryset=Warehouse.objects.select_related("location")),
    )


def ledger_page(
    *, item: Item, warehouse=None, before=None, after=None, size: int = LEDGER_PAGE_SIZE
) -> LedgerPage:
    """A page of an item's ledger (one warehouse or all), newest first, by keyset on id.

    ``before``: entries older than this id (the next page); ``after``: entries newer than this
    id (the previous page). The entries are one index range read of ``size + 1`` rows on
    (item, id) or (item, warehouse, id), whatever the ledger's size; their documents and
    warehouses two small queries more; a page in the middle asks once more whether anything
    newer exists.
    """
    size = max(1, min(int(size or LEDGER_PAGE_SIZE), LEDGER_MAX_PAGE_SIZE))
    before, after = _cursor(before), _cursor(after)
    base = LedgerEntry.objects.filter(item_id=getattr(item, "pk", item))
    if warehouse:
        base = base.filter(warehouse_id=getattr(warehouse, "pk", warehouse))
    if after is not None and before is None:
        rows = list(_ledger_relations(base.filter(id__gt=after).order_by("id"))[: size + 1])
        more_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        if not rows:  # nothing newer: show the newest page
            return ledger_page(item=item, warehouse=warehouse, size=size)
        older = rows[-1].pk if base.filter(id__lt=rows[-1].pk).exists() else None
        return LedgerPage(entries=rows, older=older, newer=rows[0].pk if more_newer else None)
    qs = base.order_by("-id")
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(_ledger_relations(qs)[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    newer = None
    if before is not None and rows:
        newer = rows[0].pk if base.filter(id__gt=rows[0].pk).exists() else None
    return LedgerPage(entries=rows, older=rows[-1].pk if more_older else None, newer=newer)


# --- Documents --------------------------------------------------------------------------------

DOCUMENT_SORTS = {
    "-id": ("-id",),
    "id": ("id",),
    "-date": ("-date", "-id"),
    "date": ("date", "id"),
}


def document_scope_q(user) -> Q | None:
    """A Q limiting documents to what ``user`` may see; None means none at all."""
    if not getattr(user, "is_authenticated", False):
        return None
    scope = user_scope(user)
    if scope == Scope.ALL or _is_admin(user):
        return Q()
    q = Q(pk__in=[])
    if user.has_perm("inventory.view_document"):
        kept = list(
            Warehouse.keepers.through.objects.filter(user_id=user.pk).values_list(
                "warehouse_id", flat=True
            )
        )
        if kept:
            q |= Q(warehouse_id__in=kept) | Q(to_warehouse_id__in=kept)
    person = person_for(user)
    if person is not None:
        q |= Q(person=person, status__in=[Document.Status.POSTED, Document.Status.REVERSED])
    return q


def document_queryset(*, user) -> QuerySet[Document]:
    q = document_scope_q(user)
    qs = Document.objects.all()
    return qs.none() if q is None else qs.filter(q)


def document_list(*, user, filters: Mapping | None = None) -> QuerySet[Document]:
    """Documents for the list page, newest first. Filters: ``type``, ``status``,
    ``warehouse`` (leaving or arriving), ``date_from`` / ``date_to``, ``person``,
    ``department``, ``supplier``, ``requisition``, ``item`` (has a line of it), ``q``
    (number prefix or invoice number), ``sort`` (one of DOCUMENT_SORTS)."""
    filters = filters or {}
    qs = document_queryset(user=user).select_related(
        "warehouse__location",
        "to_warehouse__location",
        "supplier",
        "person",
        "department",
        "operator",
        "posted_by",
        "reverses",
    )
    for name in ("type", "status"):
        value = filters.get(name)
        if value:
            qs = qs.filter(**{name: value})
    warehouse = filters.get("warehouse")
    if warehouse:
        qs = qs.filter(Q(warehouse_id=warehouse) | Q(to_warehouse_id=warehouse))
    if filters.get("date_from"):
        qs = qs.filter(date__gte=filters["date_from"])
    if filters.get("date_to"):
        qs = qs.filter(date__lte=filters["date_to"])
    for name in ("person", "department", "supplier", "requisition"):
        value = filters.get(name)
        if value:
            qs = qs.filter(**{f"{name}_id": value})
    item = filters.get("item")
    if item:
        qs = qs.filter(
            Exists(DocumentLine.objects.filter(document_id=OuterRef("pk"), item_id=item))
        )
    q = str(filters.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(number__istartswith=q) | Q(invoice_no=q))
    sort = DOCUMENT_SORTS.get(str(filters.get("sort") or "-id"), DOCUMENT_SORTS["-id"])
    return qs.order_by(*sort)


def document_get(*, user, pk) -> Document | None:
    """One document the user may see, with header relations and its lines (prefetched)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return (
        document_queryset(user=user)
        .select_related(
            "warehouse__location",
            "to_warehouse__location",
            "supplier",
            "person",
            "department",
            "operator",
            "posted_by",
            "requisition",
            "reverses",
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=DocumentLine.objects.select_related(
                    "item", "warehouse__location", "to_warehouse__location"
                ).order_by("id"),
            )
        )
        .filter(pk=pk)
        .first()
    )


def document_reversal(*, document: Document) -> Document | None:
    """The document that reversed ``document``, if any."""
    return Document.objects.filter(reverses=document).first()


# --- Requisitions -----------------------------------------------------------------------------


def requisition_may_decide(requisition: Requisition, user) -> bool:
    """The head of the requester's department or of a department above it, or an
    administrator; never the requester."""
    if not getattr(user, "is_authenticated", False):
        return False
    if requisition.requester.user_id == user.pk:
        return False
    if _is_admin(user):
        return True
    person = person_for(user)
    return person is not None and person.pk in department_head_person_ids(requisition.department)


def requisition_may_fulfil(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False) and user.has_perm("inventory.fulfil_requisition")
    )


def _requisition_relations(qs: QuerySet[Requisition]) -> QuerySet[Requisition]:
    return qs.select_related("requester", "department", "decided_by").prefetch_related(
        Prefetch("lines", queryset=RequisitionLine.objects.select_related("item").order_by("id"))
    )


def requisitions_mine(*, user) -> QuerySet[Requisition]:
    """The user's own requisitions, newest first (``/me/requisitions/``)."""
    person = person_for(user)
    if person is None:
        return Requisition.objects.none()
    return _requisition_relations(Requisition.objects.filter(requester=person))


def requisitions_to_decide(*, user) -> QuerySet[Requisition]:
    """Submitted requisitions the user may approve or reject."""
    qs = Requisition.objects.filter(state=Requisition.State.SUBMITTED)
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if not _is_admin(user):
        person = person_for(user)
        if person is None:
            return qs.none()
        heads = Department.objects.filter(head=person).values_list("path", flat=True)
        q = Q()
        for path in heads:
            q |= Q(department__path__startswith=path)
        if not q:
            return qs.none()
        qs = qs.filter(q).exclude(requester=person)
    return _requisition_relations(qs)


def requisitions_to_fulfil(*, user, stocked_in=None) -> QuerySet[Requisition]:
    """Approved or partly issued requisitions, oldest first, for keepers.

    ``stocked_in`` (warehouses or their ids): only those with an item still to issue that
    one of these warehouses holds (the keeper's queue)."""
    if not requisition_may_fulfil(user):
        return Requisition.objects.none()
    qs = Requisition.objects.filter(
        state__in=[Requisition.State.APPROVED, Requisition.State.PARTLY_ISSUED]
    ).order_by("created_at", "id")
    if stocked_in is not None:
        ids = [getattr(w, "pk", w) for w in stocked_in]
        qs = qs.filter(
            Exists(
                RequisitionLine.objects.filter(
                    requisition_id=OuterRef("pk"), quantity__gt=F("issued_quantity")
                ).filter(
                    Exists(
                        Stock.objects.filter(
                            item_id=OuterRef("item_id"), warehouse_id__in=ids, quantity__gt=0
                        )
                    )
                )
            )
        )
    return _requisition_relations(qs)


def requisition_availability(requisitions, *, warehouses) -> None:
    """Attach to each line of ``requisitions`` (lines prefetched) ``available``: its item's
    balance in each of ``warehouses`` ({warehouse id: quantity}) and ``available_total``.
    One query for all of them."""
    requisitions = list(requisitions)
    ids = [getattr(w, "pk", w) for w in warehouses]
    item_ids = {line.item_id for r in requisitions for line in r.lines.all()}
    balances: dict[int, dict[int, Decimal]] = {}
    if ids and item_ids:
        rows = Stock.objects.filter(item_id__in=item_ids, warehouse_id__in=ids).values_list(
            "item_id", "warehouse_id", "quantity"
        )
        for item_id, warehouse_id, quantity in rows:
            balances.setdefault(item_id, {})[warehouse_id] = quantity
    for requisition in requisitions:
        for line in requisition.lines.all():
            line.available = balances.get(line.item_id, {})
            line.available_total = sum(line.available.values(), ZERO)


def requisition_get(*, user, pk) -> Requisition | None:
    """A requisition the user may see: their own, one they may decide, or any for keepers
    and roles with the ALL scope."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    requisition = _requisition_relations(Requisition.objects.filter(pk=pk)).first()
    if requisition is None or not getattr(user, "is_authenticated", False):
        return None
    if (
        requisition.requester.user_id == user.pk
        or user_scope(user) == Scope.ALL
        or requisition_may_fulfil(user)
        or requisition_may_decide(requisition, user)
    ):
        return requisition
    return None
