"""Demo consumables for ``manage.py seed_demo``: item categories, items, a warehouse for
every location flagged ``is_warehouse`` (kept by the users of the keeper role) and opening
stock posted as receipts through the service. Idempotent: running it again changes nothing
(the opening receipts carry an idempotency key per warehouse).

Call ``seed_inventory()`` after the organisation and the demo users exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import transaction

from assets.models import Location, Supplier
from itassets.roles import KEEPER, ROLES

from . import services
from .models import Item, ItemCategory, Warehouse

# (code, name, [(code, name)])
CATEGORIES = [
    ("SUP", "耗材", [("SUP-TONER", "硒鼓墨盒"), ("SUP-CABLE", "线缆")]),
    ("PER", "外设", [("PER-INPUT", "键盘鼠标")]),
    ("SPR", "备件", [("SPR-DISK", "硬盘"), ("SPR-MEM", "内存")]),
]

# code, name, spec, unit, decimals, category, barcode, safety, max, opening qty, unit cost
ITEMS = [
    (
        "TONER-HP-26A",
        "硒鼓",
        "HP CF226A 黑色",
        "盒",
        0,
        "SUP-TONER",
        "6901234500011",
        5,
        20,
        10,
        "385.00",
    ),
    (
        "TONER-BR-2450",
        "粉盒",
        "Brother TN-2450",
        "盒",
        0,
        "SUP-TONER",
        "6901234500028",
        4,
        12,
        6,
        "168.00",
    ),
    (
        "CABLE-CAT6",
        "六类网线",
        "305 米/箱，按米领用",
        "米",
        1,
        "SUP-CABLE",
        "6901234500035",
        100,
        610,
        "305",
        "1.20",
    ),
    (
        "CABLE-HDMI-2M",
        "HDMI 线",
        "2.0 版 2 米",
        "根",
        0,
        "SUP-CABLE",
        "6901234500042",
        10,
        40,
        25,
        "29.90",
    ),
    (
        "MOUSE-LOGI-M100",
        "有线鼠标",
        "罗技 M100r",
        "个",
        0,
        "PER-INPUT",
        "6901234500059",
        10,
        50,
        30,
        "39.00",
    ),
    (
        "KB-LOGI-K120",
        "有线键盘",
        "罗技 K120",
        "个",
        0,
        "PER-INPUT",
        "6901234500066",
        5,
        30,
        12,
        "59.00",
    ),
    (
        "SSD-SAM-870-1T",
        "固态硬盘",
        "三星 870 EVO 1TB SATA",
        "块",
        0,
        "SPR-DISK",
        "6901234500073",
        2,
        8,
        4,
        "499.00",
    ),
    (
        "MEM-DDR4-16G",
        "内存条",
        "DDR4 3200 16GB 笔记本",
        "条",
        0,
        "SPR-MEM",
        "6901234500080",
        4,
        16,
        3,
        "259.00",
    ),
]


@dataclass
class InventoryResult:
    categories: int
    items: int
    warehouses: int
    receipts: int


def _categories() -> dict[str, ItemCategory]:
    found: dict[str, ItemCategory] = {}
    for code, name, children in CATEGORIES:
        root = ItemCategory.objects.filter(code=code).first() or ItemCategory.objects.add_root(
            instance=ItemCategory(code=code, name=name)
        )
        found[code] = root
        for child_code, child_name in children:
            found[child_code] = ItemCategory.objects.filter(
                code=child_code
            ).first() or ItemCategory.objects.add_child(
                root, instance=ItemCategory(code=child_code, name=child_name)
            )
    return found


@transaction.atomic
def seed_inventory() -> InventoryResult:
    """Create or complete the demo consumables and opening stock (idempotent)."""
    categories = _categories()
    supplier, _ = Supplier.objects.get_or_create(name="京东企业购")
    items = []
    for code, name, spec, unit, decimals, category, barcode, safety, maximum, _q, _c in ITEMS:
        item, _ = Item.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "spec": spec,
                "unit": unit,
                "quantity_decimals": decimals,
                "category": categories[category],
                "barcode": barcode,
                "safety_stock": Decimal(safety),
                "max_stock": Decimal(maximum),
                "default_supplier": supplier,
            },
        )
        items.append(item)
    keepers = list(Group.objects.get(name=ROLES[KEEPER].group).user_set.all())
    warehouses = []
    for location in Location.objects.filter(is_warehouse=True).order_by("path"):
        warehouse, _ = Warehouse.objects.get_or_create(location=location)
        if keepers:
            warehouse.keepers.add(*keepers)
        warehouses.append(warehouse)
    receipts = 0
    if warehouses:
        main = warehouses[0]
        result = services.document_create_and_post(
            actor=None,
            type="receipt",
            warehouse=main,
            supplier=supplier,
            invoice_no="DEMO-0001",
            reason="期初库存（演示数据）",
            idempotency_key=f"demo-opening-{main.location.code}",
            lines=[
                {"item": item, "quantity": row[9], "unit_cost": row[10]}
                for item, row in zip(items, ITEMS, strict=True)
            ],
        )
        receipts = int(result.posted)
    return InventoryResult(
        categories=len(categories), items=len(items), warehouses=len(warehouses), receipts=receipts
    )
