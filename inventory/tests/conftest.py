"""Fixtures of the inventory tests: a keeper and the warehouse they keep, an item, a
recipient, and helpers that read balances back from the database."""

from decimal import Decimal

import pytest

from assets.tests.factories import PersonFactory
from inventory import services
from inventory.models import LedgerEntry, Stock

from .factories import ItemFactory, WarehouseFactory


@pytest.fixture
def keeper(make_user):
    return make_user("keeper")


@pytest.fixture
def warehouse(keeper):
    return WarehouseFactory(keepers=[keeper])


@pytest.fixture
def item(db):
    return ItemFactory(name="硒鼓", code="TONER-26A", barcode="6901234567892", unit="盒")


@pytest.fixture
def person(db):
    return PersonFactory(name="张三")


def receive(keeper, warehouse, item, quantity, unit_cost: str):
    """Post a receipt of ``quantity`` units at ``unit_cost``: the stock a test starts from."""
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": quantity, "unit_cost": unit_cost}],
    )
    return item


def balance(item, warehouse) -> tuple[Decimal, Decimal, Decimal] | None:
    """(quantity, value, average cost) of the stock row, None when there is none."""
    row = (
        Stock.objects.filter(item=item, warehouse=warehouse)
        .values_list("quantity", "value", "average_cost")
        .first()
    )
    return tuple(row) if row else None


def ledger(item, warehouse) -> list[tuple]:
    """(quantity, balance after, unit cost, value change, value after) in posting order."""
    return list(
        LedgerEntry.objects.filter(item=item, warehouse=warehouse)
        .order_by("id")
        .values_list("quantity", "balance_after", "unit_cost", "value_change", "value_after")
    )


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (the msgids); the zh-hans catalog translates them."""
    from django.utils import translation

    with translation.override("en"):
        yield
