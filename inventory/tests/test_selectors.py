"""Reads: the ledger's keyset pages, low stock with reorder suggestions, the item list's
filters and stock per warehouse, the document list's data scope; query counts stay fixed."""

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assets.tests.factories import PersonFactory
from inventory import selectors, services
from inventory.models import DocumentLine, LedgerEntry

from .factories import DocumentFactory, ItemCategoryFactory, ItemFactory, WarehouseFactory


def receive(keeper, warehouse, item, quantity, unit_cost="1.00"):
    return services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": quantity, "unit_cost": unit_cost}],
    ).document


@pytest.fixture
def long_ledger(keeper, warehouse, item):
    """130 ledger entries for the item: 100 in the warehouse, 30 in another (interleaved)."""
    other = WarehouseFactory(keepers=[keeper])
    document = DocumentFactory(warehouse=warehouse, lines=[(item, 1, "1.00")])
    line = DocumentLine.objects.get(document=document)
    now = timezone.now()
    entries, balances = [], {warehouse.pk: 0, other.pk: 0}
    for n in range(130):
        wh = other if n % 13 in (3, 7, 11) else warehouse
        balances[wh.pk] += 1
        entries.append(
            LedgerEntry(
                item=item,
                warehouse=wh,
                document=document,
                line=line,
                quantity=D(1),
                balance_after=D(balances[wh.pk]),
                unit_cost=D(1),
                value_change=D(1),
                value_after=D(balances[wh.pk]),
                posted_at=now,
            )
        )
    LedgerEntry.objects.bulk_create(entries)
    ids = list(LedgerEntry.objects.filter(item=item).order_by("-id").values_list("id", flat=True))
    return other, ids


def test_ledger_pages_newest_first_by_keyset(item, long_ledger):
    _, ids = long_ledger

    with CaptureQueriesContext(connection) as first_queries:
        first = selectors.ledger_page(item=item)
    second = selectors.ledger_page(item=item, before=first.older)
    with CaptureQueriesContext(connection) as last_queries:
        last = selectors.ledger_page(item=item, before=second.older)
    back = selectors.ledger_page(item=item, after=second.newer)

    assert [e.pk for e in first.entries] == ids[:50]
    assert (first.older, first.newer) == (ids[49], None)
    assert [e.pk for e in second.entries] == ids[50:100]
    assert (second.older, second.newer) == (ids[99], ids[50])
    assert [e.pk for e in last.entries] == ids[100:]
    assert (last.older, last.has_older) == (None, False)
    assert [e.pk for e in back.entries] == ids[:50]
    assert back.newer is None
    assert len(first_queries) == 3  # an index range read; its documents and warehouses
    assert len(last_queries) == 4  # plus "is there anything newer?"
    with CaptureQueriesContext(connection) as shown:
        [(e.document.type, e.warehouse.location.name) for e in first.entries]
    assert len(shown) == 0  # what the page shows came with it


def test_ledger_page_for_one_warehouse(item, warehouse, long_ledger):
    other, _ = long_ledger
    page = selectors.ledger_page(item=item, warehouse=other, size=20)
    assert len(page.entries) == 20 and {e.warehouse_id for e in page.entries} == {other.pk}
    rest = selectors.ledger_page(item=item, warehouse=other, before=page.older, size=20)
    assert len(rest.entries) == 10 and rest.older is None
    assert [e.balance_after for e in page.entries + rest.entries] == [
        D(n) for n in range(30, 0, -1)
    ]


def test_ledger_page_ignores_bad_cursors_and_sizes(item, long_ledger):
    _, ids = long_ledger
    page = selectors.ledger_page(item=item, before="x", after="-5", size="1000")
    assert [e.pk for e in page.entries] == ids[: selectors.LEDGER_MAX_PAGE_SIZE][:130]


def test_low_stock_lists_balances_below_safety_with_a_reorder_suggestion(keeper, warehouse):
    other = WarehouseFactory(keepers=[keeper])
    toner = ItemFactory(code="A-TONER", safety_stock=D("10"), max_stock=D("30"))
    mouse = ItemFactory(code="B-MOUSE", safety_stock=D("5"))  # no maximum: refill to safety
    cable = ItemFactory(code="C-CABLE", safety_stock=D("2"))
    retired = ItemFactory(code="D-OLD", safety_stock=D("5"))
    receive(keeper, warehouse, toner, 8)
    receive(keeper, other, toner, 12)  # above safety there
    receive(keeper, warehouse, mouse, 1)
    receive(keeper, warehouse, cable, 2)  # exactly at safety: fine
    receive(keeper, warehouse, retired, 1)
    retired.is_active = False
    retired.save()

    rows = list(selectors.low_stock_list())
    just_other = list(selectors.low_stock_list(warehouse=other))

    assert [(r.item.code, r.warehouse_id, r.quantity, r.suggested_reorder) for r in rows] == [
        ("A-TONER", warehouse.pk, D("8"), D("22")),
        ("B-MOUSE", warehouse.pk, D("1"), D("4")),
    ]
    assert just_other == []


def test_item_list_filters_and_stock_per_warehouse(keeper, warehouse):
    other = WarehouseFactory(keepers=[keeper])
    supplies = ItemCategoryFactory(name="耗材")
    toner_cat = ItemCategoryFactory(parent=supplies, name="硒鼓")
    parts = ItemCategoryFactory(name="备件")
    toner = ItemFactory(code="T-1", name="HP 硒鼓", category=toner_cat, safety_stock=D("5"))
    paper = ItemFactory(code="P-1", name="A4 纸", category=supplies)
    ItemFactory(code="D-1", name="固态硬盘", category=parts, barcode="4711")
    ItemFactory(code="X-1", inactive=True)
    receive(keeper, warehouse, toner, 3)
    receive(keeper, other, toner, 9)
    receive(keeper, other, paper, 2)

    def codes(**filters):
        return [i.code for i in selectors.item_list(filters=filters)]

    assert codes() == ["D-1", "P-1", "T-1"]
    assert codes(category=supplies.pk) == ["P-1", "T-1"]
    assert codes(q="硒鼓") == ["T-1"]
    assert codes(q="4711") == ["D-1"]
    assert codes(q="p-") == ["P-1"]
    assert codes(warehouse=other.pk) == ["P-1", "T-1"]
    assert codes(below_safety="1") == ["T-1"]
    assert codes(below_safety="1", warehouse=other.pk) == []
    assert codes(active="all") == ["D-1", "P-1", "T-1", "X-1"]

    with CaptureQueriesContext(connection) as queries:
        items = selectors.items_with_stock(selectors.item_list(filters={}))
    assert len(queries) == 2  # the page of items, their stock rows
    by_code = {i.code: i for i in items}
    assert by_code["T-1"].on_hand == D("12") and by_code["T-1"].below_safety is True
    assert by_code["T-1"].stock_by_warehouse[other.pk].quantity == D("9")
    assert by_code["D-1"].stock_rows == [] and by_code["D-1"].on_hand == 0


def test_documents_are_scoped_by_role(make_user, keeper, warehouse, item):
    other_keeper = make_user("keeper")
    other = WarehouseFactory(keepers=[other_keeper])
    employee = make_user("employee")
    me = PersonFactory(user=employee)
    mine = receive(keeper, warehouse, item, 5)
    theirs = receive(other_keeper, other, item, 5)
    given = services.document_create_and_post(
        actor=keeper,
        type="issue",
        warehouse=warehouse,
        person=me,
        lines=[{"item": item, "quantity": 1}],
    ).document
    draft_for_me = services.document_create(
        actor=keeper,
        type="issue",
        warehouse=warehouse,
        person=me,
        lines=[{"item": item, "quantity": 1}],
    )

    def seen(user, **filters):
        return {d.pk for d in selectors.document_list(user=user, filters=filters)}

    everything = {mine.pk, theirs.pk, given.pk, draft_for_me.pk}
    assert seen(make_user("admin")) == everything
    assert seen(make_user("clerk")) == everything
    assert seen(make_user("auditor")) == everything
    assert seen(keeper) == {mine.pk, given.pk, draft_for_me.pk}
    assert seen(other_keeper) == {theirs.pk}
    assert seen(employee) == {given.pk}  # posted documents issued to them
    assert seen(make_user("employee")) == set()
    assert seen(keeper, type="issue", status="posted") == {given.pk}
    assert seen(keeper, q=given.number[:6]) == {given.pk}
    assert seen(keeper, item=item.pk, type="receipt") == {mine.pk}
    assert selectors.document_get(user=other_keeper, pk=mine.pk) is None
    assert selectors.document_get(user=keeper, pk=mine.pk) == mine


def test_document_list_query_count_does_not_grow_with_rows(keeper, warehouse, item):
    person = PersonFactory()

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            list(selectors.document_list(user=keeper, filters={})[:50])
        return len(queries)

    receive(keeper, warehouse, item, 50)
    count_queries()  # permissions are cached on the user after the first
    few = count_queries()
    for _ in range(10):
        services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            lines=[{"item": item, "quantity": 1}],
        )
    assert count_queries() == few
