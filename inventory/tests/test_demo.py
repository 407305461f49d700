"""Demo consumables: items, warehouses kept by the keepers, opening stock; idempotent."""

from decimal import Decimal as D

from assets import demo as asset_demo
from inventory import demo
from inventory.models import Document, Item, LedgerEntry, Stock, Warehouse


def test_seed_inventory_twice_creates_everything_once(db):
    asset_demo.seed_demo(people=20)

    first = demo.seed_inventory()
    second = demo.seed_inventory()

    assert (first.items, first.warehouses, first.receipts) == (len(demo.ITEMS), 2, 1)
    assert (second.items, second.warehouses, second.receipts) == (len(demo.ITEMS), 2, 0)
    assert Item.objects.count() == len(demo.ITEMS)
    assert Document.objects.filter(status="posted").count() == 1
    assert LedgerEntry.objects.count() == len(demo.ITEMS)
    main = Warehouse.objects.get(location__code="WH-MAIN")
    assert [u.username for u in main.keepers.all()] == ["keeper"]
    cable = Stock.objects.get(item__code="CABLE-CAT6", warehouse=main)
    assert (cable.quantity, cable.value) == (D("305"), D("366.00"))
