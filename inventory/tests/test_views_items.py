"""The item pages: ``/inventory/items/`` (filters, stock per warehouse, export) and the item
page with stock, moving average cost and the keyset-paged ledger."""

import csv
import html
import io
import re
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.urls import reverse
from openpyxl import load_workbook

from inventory import services
from inventory.models import LedgerEntry

from .factories import ItemCategoryFactory, ItemFactory, WarehouseFactory

LIST = reverse("inventory:item_list")
HTMX = {"HX-Request": "true"}


def receive(keeper, warehouse, item, quantity, cost="10.00"):
    return services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": quantity, "unit_cost": cost}],
    ).document


def issue(keeper, warehouse, item, quantity, person):
    return services.document_create_and_post(
        actor=keeper,
        type="issue",
        warehouse=warehouse,
        person=person,
        lines=[{"item": item, "quantity": quantity}],
    ).document


# --- List -------------------------------------------------------------------------------------


def test_the_list_shows_items_with_quantities_per_warehouse(client_as, keeper, warehouse, item):
    other = WarehouseFactory(keepers=[keeper])
    receive(keeper, warehouse, item, 8)
    receive(keeper, other, item, 3)
    client = client_as(user=keeper)

    response = client.get(LIST)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert 'id="item-table"' in body
    assert item.code in body and item.name in body
    row = response.context["items"][0]
    assert row.pk == item.pk
    assert [s.quantity if s else None for s in row.columns] == [
        D("8") if w.pk == warehouse.pk else D("3") for w in response.context["columns"]
    ]
    assert row.on_hand == D("11")
    assert reverse("inventory:item_detail", args=[item.pk]) in body


def test_an_htmx_filter_change_gets_only_the_table(client_as, keeper, warehouse, item):
    ItemFactory(code="CABLE-1", name="网线")
    client = client_as(user=keeper)

    response = client.get(LIST, {"q": "TONER"}, headers=HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="item-table">')
    assert item.code in body and "CABLE-1" not in body
    assert response["HX-Push-Url"] == f"{LIST}?q=TONER"
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "6901234567892"}, ["TONER-26A"]),  # barcode: exact
        ({"q": "toner"}, ["TONER-26A"]),  # code prefix, any case
        ({"q": "鼠标"}, ["MOUSE-1"]),  # name substring
        ({"active": "0"}, ["OLD-1"]),
        ({"active": "all"}, ["MOUSE-1", "OLD-1", "TONER-26A"]),
        ({}, ["MOUSE-1", "TONER-26A"]),
    ],
)
def test_the_list_filters_by_search_and_active(client_as, keeper, item, params, expected):
    ItemFactory(code="MOUSE-1", name="无线鼠标")
    ItemFactory(code="OLD-1", name="旧硒鼓", inactive=True)

    response = client_as(user=keeper).get(LIST, params)

    assert [i.code for i in response.context["items"]] == expected


def test_the_category_filter_includes_subcategories(client_as, keeper):
    parent = ItemCategoryFactory(name="耗材")
    child = ItemCategoryFactory(name="硒鼓墨盒", parent=parent)
    ItemFactory(code="A-1", category=parent)
    ItemFactory(code="B-1", category=child)
    ItemFactory(code="C-1", category=ItemCategoryFactory(name="线缆"))
    client = client_as(user=keeper)

    assert [i.code for i in client.get(LIST, {"category": parent.pk}).context["items"]] == [
        "A-1",
        "B-1",
    ]
    assert [i.code for i in client.get(LIST, {"category": child.pk}).context["items"]] == ["B-1"]


def test_the_warehouse_and_below_safety_filters(client_as, keeper, warehouse):
    other = WarehouseFactory(keepers=[keeper])
    low = ItemFactory(code="LOW-1", safety_stock=D("5"))
    ok = ItemFactory(code="OK-1", safety_stock=D("5"))
    elsewhere = ItemFactory(code="ELSE-1", safety_stock=D("5"))
    receive(keeper, warehouse, low, 2)
    receive(keeper, warehouse, ok, 9)
    receive(keeper, other, elsewhere, 1)
    client = client_as(user=keeper)

    in_warehouse = client.get(LIST, {"warehouse": warehouse.pk}).context
    below_here = client.get(LIST, {"warehouse": warehouse.pk, "below_safety": "1"}).context
    below_anywhere = client.get(LIST, {"below_safety": "1"}).context

    assert [i.code for i in in_warehouse["items"]] == ["LOW-1", "OK-1"]
    assert [w.pk for w in in_warehouse["columns"]] == [warehouse.pk]
    assert [i.code for i in below_here["items"]] == ["LOW-1"]
    assert [i.code for i in below_anywhere["items"]] == ["ELSE-1", "LOW-1"]


def test_with_many_warehouses_a_cell_lists_where_the_stock_is(client_as, keeper, item):
    warehouses = [WarehouseFactory(keepers=[keeper]) for _ in range(7)]
    receive(keeper, warehouses[2], item, 4)

    response = client_as(user=keeper).get(LIST)

    assert response.context["columns"] == []
    assert response.context["per_warehouse_cell"] is True
    assert f"{warehouses[2].name} 4" in response.content.decode()


def test_an_unknown_filter_value_is_ignored(client_as, keeper, item):
    response = client_as(user=keeper).get(LIST, {"warehouse": "999999", "category": "x"})

    assert response.status_code == 200
    assert [i.code for i in response.context["items"]] == [item.code]


def test_the_list_is_paginated_with_real_links(client_as, keeper):
    ItemFactory.create_batch(55)

    response = client_as(user=keeper).get(LIST, {"q": "ITEM"})

    assert len(response.context["items"]) == 50
    assert response.context["pager"]["next"] == f"{LIST}?q=ITEM&page=2"
    assert 'href="/inventory/items/?q=ITEM&amp;page=2"' in response.content.decode()
    second = client_as(user=keeper).get(LIST, {"q": "ITEM", "page": 2})
    assert len(second.context["items"]) == 5


@pytest.mark.parametrize("role", ["clerk", "admin", "auditor"])
def test_clerks_administrators_and_auditors_see_the_list(client_as, role, item):
    assert client_as(role).get(LIST).status_code == 200


@pytest.mark.parametrize("role", ["employee", "dept_head", None])
def test_other_roles_are_refused(client_as, role, item):
    client = client_as(role)

    assert client.get(LIST).status_code == 403
    assert client.get(reverse("inventory:item_detail", args=[item.pk])).status_code == 403
    assert client.get(reverse("inventory:item_export", args=["xlsx"])).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client, item):
    response = client.get(LIST)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("rows", [10, 100])
def test_the_list_costs_a_constant_number_of_queries(
    client_as, keeper, rows, django_assert_max_num_queries
):
    warehouses = [WarehouseFactory(keepers=[keeper]) for _ in range(3)]
    category = ItemCategoryFactory()
    items = ItemFactory.create_batch(rows, category=category)
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouses[0],
        lines=[{"item": i, "quantity": 1, "unit_cost": "1"} for i in items],
    )
    client = client_as(user=keeper)
    client.get(LIST)  # warm the session

    # session, user, permissions (2), warehouses, categories (choices, subtree: 2), count,
    # items, stock, the menu's roles and person
    with django_assert_max_num_queries(13):
        response = client.get(LIST, {"per_page": 100, "category": category.pk})

    assert response.status_code == 200
    assert len(response.context["items"]) == min(rows, 50)


# --- Export -----------------------------------------------------------------------------------


def test_the_export_has_the_filtered_items_with_their_stock(client_as, keeper, warehouse, item):
    other = WarehouseFactory(keepers=[keeper])
    receive(keeper, warehouse, item, 8, "12.50")
    receive(keeper, other, item, 2, "10.00")
    ItemFactory(code="CABLE-1", name="=CMD()")  # formula-like text
    client = client_as(user=keeper)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    xlsx = client.get(reverse("inventory:item_export", args=["xlsx"]), {"q": "TONER"})
    csv_response = client.get(reverse("inventory:item_export", args=["csv"]))

    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Item code", "Name")
    assert [(r[0], r[8], r[9]) for r in rows[1:]] == [
        ("TONER-26A", str(warehouse), 8),
        ("TONER-26A", str(other), 2),
    ]
    text = csv_response.content.decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text)))
    assert records[1][:2] == ["CABLE-1", "'=CMD()"]
    assert csv_response["Content-Disposition"].startswith('attachment; filename="items-')


def test_the_export_with_a_warehouse_filter_lists_that_warehouse_only(
    client_as, keeper, warehouse, item
):
    other = WarehouseFactory(keepers=[keeper])
    receive(keeper, warehouse, item, 8)
    receive(keeper, other, item, 2)

    response = client_as(user=keeper).get(
        reverse("inventory:item_export", args=["xlsx"]), {"warehouse": other.pk}
    )

    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert [(r[0], r[8], r[9]) for r in rows[1:]] == [("TONER-26A", str(other), 2)]


def test_an_unknown_export_format_is_404(client_as, keeper):
    assert client_as(user=keeper).get("/inventory/items/export.pdf").status_code == 404


# --- Item page --------------------------------------------------------------------------------


def test_the_item_page_shows_stock_average_cost_and_the_ledger(
    client_as, keeper, warehouse, item, person
):
    receive(keeper, warehouse, item, 10, "12.00")
    receive(keeper, warehouse, item, 10, "13.00")
    out = issue(keeper, warehouse, item, 12, person)

    response = client_as(user=keeper).get(reverse("inventory:item_detail", args=[item.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["on_hand"] == D("8")
    stock = response.context["stock_rows"][0]
    assert (stock.quantity, stock.average_cost, stock.value) == (D("8"), D("12.5"), D("100.00"))
    assert "12.5000" in body and "100.00" in body
    entries = response.context["ledger"].entries
    assert [(e.quantity, e.balance_after) for e in entries] == [
        (D("-12"), D("8")),
        (D("10"), D("20")),
        (D("10"), D("10")),
    ]
    assert out.number in body
    assert reverse("inventory:document_detail", args=[out.pk]) in body
    assert 'id="item-ledger"' in body


def test_the_ledger_pages_by_keyset_with_real_links(client_as, keeper, warehouse, item):
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 1, "unit_cost": "1"} for _ in range(60)],
    )
    ids = list(LedgerEntry.objects.filter(item=item).order_by("-id").values_list("id", flat=True))
    url = reverse("inventory:item_detail", args=[item.pk])
    client = client_as(user=keeper)

    first = client.get(url)
    older_url = first.context["ledger_older_url"]
    second = client.get(older_url, headers=HTMX)
    body = second.content.decode()
    newer_url = html.unescape(re.search(r'href="([^"]+)"[^>]*data-testid="ledger-newer"', body)[1])
    back = client.get(newer_url)

    assert [e.pk for e in first.context["ledger"].entries] == ids[:50]
    assert older_url == f"{url}?before={ids[49]}"
    assert first.context["ledger_newer_url"] is None
    assert "<html" not in body and body.lstrip().startswith('<div id="item-ledger">')
    assert 'data-testid="ledger-older"' not in body  # the oldest page
    assert len(re.findall(r'href="/inventory/documents/\d+/"', body)) == 10
    assert newer_url == f"{url}?after={ids[50]}"
    assert [e.pk for e in back.context["ledger"].entries] == ids[:50]


def test_the_ledger_filters_by_warehouse(client_as, keeper, warehouse, item):
    other = WarehouseFactory(keepers=[keeper])
    receive(keeper, warehouse, item, 5)
    receive(keeper, other, item, 7)
    url = reverse("inventory:item_detail", args=[item.pk])

    response = client_as(user=keeper).get(url, {"warehouse": other.pk})

    assert [(e.warehouse_id, e.quantity) for e in response.context["ledger"].entries] == [
        (other.pk, D("7"))
    ]
    assert response.context["ledger_warehouse"] == other


def test_an_unknown_item_is_404(client_as, keeper):
    response = client_as(user=keeper).get(reverse("inventory:item_detail", args=[999999]))

    assert response.status_code == 404


@pytest.mark.parametrize("entries", [10, 100])
def test_the_item_page_costs_a_constant_number_of_queries(
    client_as, keeper, warehouse, item, entries, django_assert_max_num_queries
):
    other = WarehouseFactory(keepers=[keeper])
    for w in (warehouse, other):
        services.document_create_and_post(
            actor=keeper,
            type="receipt",
            warehouse=w,
            lines=[{"item": item, "quantity": 1, "unit_cost": "1"} for _ in range(entries // 2)],
        )
    ids = list(LedgerEntry.objects.filter(item=item).order_by("-id").values_list("id", flat=True))
    url = reverse("inventory:item_detail", args=[item.pk])
    client = client_as(user=keeper)
    client.get(url)

    with django_assert_max_num_queries(12):
        page = client.get(url)
    with django_assert_max_num_queries(12):
        deep = client.get(url, {"before": ids[len(ids) // 2], "warehouse": other.pk})

    assert page.status_code == deep.status_code == 200


# --- Navigation -------------------------------------------------------------------------------

INVENTORY_LINKS = ("/inventory/items/", "/inventory/documents/", "/inventory/low-stock/")


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("keeper", True),
        ("clerk", True),
        ("admin", True),
        ("auditor", True),
        ("employee", False),
        ("dept_head", False),
    ],
)
def test_the_menu_links_the_inventory_pages_for_roles_that_may_see_them(client_as, role, shown):
    body = client_as(role).get(reverse("home")).content.decode()

    for url in INVENTORY_LINKS:
        assert (f'class="nav-link" href="{url}"' in body) is shown
