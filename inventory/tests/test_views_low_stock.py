"""``/inventory/low-stock/``: balances below the safety stock per warehouse with the suggested
reorder quantity (max − on hand), filters, export, permissions, query count."""

import io
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.urls import reverse
from openpyxl import load_workbook

from inventory import services

from .factories import ItemCategoryFactory, ItemFactory, WarehouseFactory

URL = reverse("inventory:low_stock")
HTMX = {"HX-Request": "true"}


def stock(keeper, warehouse, item, quantity):
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": quantity, "unit_cost": "1"}],
    )


@pytest.fixture
def low(keeper, warehouse):
    """Toner: 3 on hand, safety 5, max 20 → reorder 17; cable: fine; mouse in another
    warehouse: 1 on hand, safety 2, no max → reorder 1."""
    toner = ItemFactory(code="TONER-1", name="硒鼓", safety_stock=D("5"), max_stock=D("20"))
    cable = ItemFactory(code="CABLE-1", name="网线", safety_stock=D("5"))
    mouse = ItemFactory(code="MOUSE-1", name="鼠标", safety_stock=D("2"))
    other = WarehouseFactory(keepers=[keeper])
    stock(keeper, warehouse, toner, 3)
    stock(keeper, warehouse, cable, 9)
    stock(keeper, other, mouse, 1)
    return {"toner": toner, "mouse": mouse, "other": other}


def test_the_page_lists_what_to_reorder(client_as, keeper, warehouse, low):
    response = client_as(user=keeper).get(URL)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and 'id="low-stock-table"' in body
    rows = [
        (s.warehouse_id, s.item.code, s.quantity, s.suggested_reorder)
        for s in response.context["rows"]
    ]
    assert sorted(rows) == sorted(
        [(warehouse.pk, "TONER-1", D("3"), D("17")), (low["other"].pk, "MOUSE-1", D("1"), D("1"))]
    )
    assert "CABLE-1" not in body
    assert reverse("inventory:item_detail", args=[low["toner"].pk]) in body


def test_the_htmx_filter_gets_only_the_table(client_as, keeper, warehouse, low):
    response = client_as(user=keeper).get(URL, {"warehouse": low["other"].pk}, headers=HTMX)

    body = response.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="low-stock-table">')
    assert "MOUSE-1" in body and "TONER-1" not in body
    assert response["HX-Push-Url"] == f"{URL}?warehouse={low['other'].pk}"


def test_the_category_filter_includes_subcategories(client_as, keeper, warehouse):
    parent = ItemCategoryFactory()
    child = ItemCategoryFactory(parent=parent)
    inside = ItemFactory(code="IN-1", category=child, safety_stock=D("5"))
    outside = ItemFactory(code="OUT-1", safety_stock=D("5"))
    stock(keeper, warehouse, inside, 1)
    stock(keeper, warehouse, outside, 1)

    response = client_as(user=keeper).get(URL, {"category": parent.pk})

    assert [s.item.code for s in response.context["rows"]] == ["IN-1"]


def test_the_export(client_as, keeper, warehouse, low):
    client = client_as(user=keeper)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(
        reverse("inventory:low_stock_export", args=["xlsx"]), {"warehouse": warehouse.pk}
    )

    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][8] == "Suggested reorder"
    assert [(r[0], r[1], r[5], r[8]) for r in rows[1:]] == [(str(warehouse), "TONER-1", 3, 17)]


@pytest.mark.parametrize("role", ["clerk", "admin", "auditor"])
def test_read_only_roles_see_the_page(client_as, role, low):
    assert client_as(role).get(URL).status_code == 200


@pytest.mark.parametrize("role", ["employee", "dept_head"])
def test_other_roles_are_refused(client_as, role, low):
    client = client_as(role)

    assert client.get(URL).status_code == 403
    assert client.get(reverse("inventory:low_stock_export", args=["xlsx"])).status_code == 403


@pytest.mark.parametrize("rows", [10, 100])
def test_the_page_costs_a_constant_number_of_queries(
    client_as, keeper, warehouse, rows, django_assert_max_num_queries
):
    items = ItemFactory.create_batch(rows, safety_stock=D("5"), max_stock=D("9"))
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": i, "quantity": 1, "unit_cost": "1"} for i in items],
    )
    client = client_as(user=keeper)
    client.get(URL)

    with django_assert_max_num_queries(11):
        response = client.get(URL)

    assert len(response.context["rows"]) == rows
