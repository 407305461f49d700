"""Importing consumable items with opening stock posted as receipt documents."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from assets.tests.import_helpers import write_csv
from inventory.models import Document, Item, Stock
from inventory.tests.factories import ItemCategoryFactory, ItemFactory, WarehouseFactory
from itassets.importing.service import import_file

HEADER = ["物料编码", "物料名称", "单位", "物料分类", "安全库存", "仓库", "期初数量", "期初单价"]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def stores(make_user):
    keeper = make_user("keeper")
    a = WarehouseFactory(location__code="WH-A", location__name="一号库", keepers=[keeper])
    b = WarehouseFactory(location__code="WH-B", location__name="二号库", keepers=[keeper])
    ItemCategoryFactory(code="TONER", name="硒鼓墨盒")
    return keeper, a, b


def test_items_with_opening_stock_in_two_warehouses(stores, tmp_path):
    keeper, a, b = stores
    ItemFactory(code="OLD-1", name="旧名", unit="个", barcode=None)
    rows = [
        HEADER,
        ["T-88A", "HP 88A 硒鼓", "盒", "TONER", "2", "WH-A", "10", "¥320.5"],
        ["T-88A", "", "", "", "", "二号库", "3", "300"],
        ["OLD-1", "新名", "", "", "", "", "", ""],
    ]

    result = import_file(kind="items", path=write_csv(tmp_path / "i.csv", rows), actor=keeper)

    assert (result.errors, result.created, result.updated) == ([], 1, 1)
    assert result.refs_created == {"receipts": 2}
    toner = Item.objects.get(code="T-88A")
    assert (toner.name, toner.unit, toner.category.code, toner.safety_stock) == (
        "HP 88A 硒鼓",
        "盒",
        "TONER",
        Decimal("2.000"),
    )
    assert Item.objects.get(code="OLD-1").name == "新名"
    stock = dict(Stock.objects.filter(item=toner).values_list("warehouse", "quantity"))
    assert stock == {a.pk: Decimal("10.000"), b.pk: Decimal("3.000")}
    assert set(Document.objects.values_list("type", "status")) == {("receipt", "posted")}


def test_opening_stock_needs_a_user_who_may_post(stores, tmp_path, clerk):
    rows = [HEADER, ["T-1", "墨盒", "个", "", "", "WH-A", "1", "10"]]

    result = import_file(kind="items", path=write_csv(tmp_path / "i.csv", rows), actor=clerk)

    assert [e.reason.split(":")[0] for e in result.errors] == [
        "Opening stock is posted as receipts"
    ]
    assert not Item.objects.exists()


def test_bad_item_rows_are_reported_per_cell(stores, tmp_path):
    keeper = stores[0]
    rows = [
        HEADER,
        ["T-1", "墨盒", "个", "无此分类", "-1", "WH-Z", "1.5", ""],
        ["T-2", "墨盒", "个", "", "", "WH-A", "2", "10"],
        ["T-2", "另一个名字", "", "", "", "WH-B", "1", "10"],
        ["T-3", "", "", "", "", "", "", ""],
    ]

    result = import_file(kind="items", path=write_csv(tmp_path / "i.csv", rows), actor=keeper)

    assert [(e.row, e.column) for e in result.errors] == [
        (2, "物料分类"),
        (2, "安全库存"),
        (2, "仓库"),
        (2, "期初数量"),
        (2, "期初单价"),
        (4, "物料编码"),
        (5, "物料名称"),
    ]
    assert not Item.objects.exists()
    assert not Document.objects.exists()


def test_the_import_items_command(stores, tmp_path, capsys):
    keeper = stores[0]
    path = write_csv(tmp_path / "i.csv", [HEADER, ["T-1", "墨盒", "个", "", "", "WH-A", "1", "x"]])

    with pytest.raises(CommandError):
        call_command(
            "import_items",
            str(path),
            "--user",
            keeper.username,
            "--no-progress",
            "--language",
            "en",
        )
    assert "Not a number." in capsys.readouterr().out
