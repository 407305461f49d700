"""Demo consumables for ``manage.py seed_demo``: item categories, items, a warehouse for
every location flagged ``is_warehouse`` (kept by the users of the keeper role) and opening
stock posted as receipts through the service.

The first items are the hand-written ``ITEMS`` (toner, cable by the metre, mice, disks;
memory below its safety stock, so the low-stock page has a row); ``seed_inventory(items=N)``
adds generated ones up to N (``DEMO-00009`` ...), each the same for a seed whatever N is.
Idempotent: items are upserted by code (another seed updates the generated ones in place),
and only items without stock in the main warehouse get an opening receipt, so running it
again changes nothing.

Call ``seed_inventory()`` after the organisation and the demo users exist.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import transaction

from assets.models import Location, Supplier
from itassets.roles import KEEPER, ROLES

from . import services
from .models import Item, ItemCategory, Stock, Warehouse

DEFAULT_SEED = 2026
RECEIPT_LINES = 500  # lines per opening receipt (services.common.MAX_LINES)

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


# Generated items: category, name, unit, spec patterns ({m} from ``sizes``), unit cost range.
FAMILIES = [
    (
        "SUP-TONER",
        "硒鼓",
        "盒",
        ["HP CF2{m}A 黑色", "佳能 CRG-3{m} 黑色"],
        range(10, 90),
        (120, 600),
    ),
    ("SUP-TONER", "墨盒", "个", ["爱普生 T{m} 彩色", "HP {m}XL 三色"], range(60, 99), (60, 300)),
    ("SUP-CABLE", "网线跳线", "根", ["六类 {m} 米", "超五类 {m} 米"], range(1, 21), (5, 40)),
    ("SUP-CABLE", "USB 数据线", "根", ["Type-C {m} 米", "Micro-USB {m} 米"], range(1, 4), (10, 50)),
    ("SUP-CABLE", "电源线", "根", ["国标三插 {m} 米", "品字尾 {m} 米"], range(1, 6), (10, 30)),
    ("PER-INPUT", "无线鼠标", "个", ["罗技 M{m}", "雷柏 M{m}"], range(100, 400), (40, 200)),
    ("PER-INPUT", "键盘", "个", ["罗技 K{m}", "戴尔 KB{m}"], range(100, 900), (50, 300)),
    (
        "SPR-DISK",
        "机械硬盘",
        "块",
        ["希捷 {m}TB SATA", "西数 {m}TB SATA"],
        range(1, 9),
        (300, 1500),
    ),
    (
        "SPR-DISK",
        "固态硬盘",
        "块",
        ["三星 {m}GB NVMe", "西数 {m}GB SATA"],
        (256, 512, 1024),
        (200, 900),
    ),
    (
        "SPR-MEM",
        "内存条",
        "条",
        ["DDR4 {m}GB 台式机", "DDR5 {m}GB 笔记本"],
        (8, 16, 32),
        (150, 900),
    ),
]


@dataclass(frozen=True)
class ItemRow:
    """One demo item (pure data) and its opening stock in the main warehouse."""

    code: str
    name: str
    spec: str
    unit: str
    decimals: int
    category: str
    barcode: str
    safety: Decimal
    maximum: Decimal
    opening: Decimal
    unit_cost: Decimal


def item_rows(*, count: int = len(ITEMS), seed: int = DEFAULT_SEED) -> list[ItemRow]:
    """The demo items (pure: no database). Item i is the same for any count; the hand-written
    ones come first and do not depend on the seed."""
    rows = [
        ItemRow(
            code,
            name,
            spec,
            unit,
            decimals,
            category,
            barcode,
            Decimal(safety),
            Decimal(maximum),
            Decimal(str(opening)),
            Decimal(cost),
        )
        for code, name, spec, unit, decimals, category, barcode, safety, maximum, opening, cost in (
            ITEMS[:count]
        )
    ]
    for number in range(len(ITEMS) + 1, count + 1):
        rng = random.Random(f"itassets-demo:{seed}:item:{number}")  # noqa: S311
        category, name, unit, specs, sizes, (low, high) = rng.choice(FAMILIES)
        safety = rng.choice((0, 2, 5, 10, 20))
        maximum = safety * rng.choice((2, 3, 4)) if safety else rng.choice((0, 20, 50))
        rows.append(
            ItemRow(
                code=f"DEMO-{number:05d}",
                name=name,
                spec=rng.choice(specs).format(m=rng.choice(list(sizes))),
                unit=unit,
                decimals=0,
                category=category,
                barcode=f"6920{number:09d}",
                safety=Decimal(safety),
                maximum=Decimal(maximum),
                # Some below their safety stock, so the low-stock page lists a few.
                opening=Decimal(rng.randint(1, max(maximum, safety, 5) + 5)),
                unit_cost=Decimal(rng.randint(low * 100, high * 100)) / 100,
            )
        )
    return rows


@dataclass
class InventoryResult:
    categories: int
    items: int
    warehouses: int
    receipts: int
    items_created: int = 0
    items_updated: int = 0


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


# What another seed may change in place (opening stock is posted once and stays).
ITEM_FIELDS = [
    "name",
    "spec",
    "unit",
    "quantity_decimals",
    "category",
    "barcode",
    "safety_stock",
    "max_stock",
]


def _upsert_items(rows: list[ItemRow], categories, supplier) -> tuple[list[Item], int, int]:
    existing = {i.code: i for i in Item.objects.filter(code__in=[r.code for r in rows])}
    new, changed, items = [], [], []
    for row in rows:
        values = {
            "name": row.name,
            "spec": row.spec,
            "unit": row.unit,
            "quantity_decimals": row.decimals,
            "category_id": categories[row.category].pk,
            "barcode": row.barcode,
            "safety_stock": row.safety,
            "max_stock": row.maximum,
        }
        item = existing.get(row.code)
        if item is None:
            item = Item(code=row.code, default_supplier=supplier, **values)
            new.append(item)
        elif any(getattr(item, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(item, name, value)
            changed.append(item)
        items.append(item)
    Item.objects.bulk_create(new, batch_size=1000)
    if new and new[0].pk is None:  # backends that return no ids on bulk insert
        ids = dict(Item.objects.filter(code__in=[i.code for i in new]).values_list("code", "id"))
        for item in new:
            item.pk = ids[item.code]
    Item.objects.bulk_update(changed, ITEM_FIELDS, batch_size=1000)
    return items, len(new), len(changed)


@transaction.atomic
def seed_inventory(*, items: int = len(ITEMS), seed: int = DEFAULT_SEED) -> InventoryResult:
    """Create or complete ``items`` demo consumables and their opening stock (idempotent)."""
    categories = _categories()
    supplier, _ = Supplier.objects.get_or_create(name="京东企业购")
    rows = item_rows(count=items, seed=seed)
    found, created, updated = _upsert_items(rows, categories, supplier)
    keepers = list(Group.objects.get(name=ROLES[KEEPER].group).user_set.all())
    warehouses = []
    for location in Location.objects.filter(is_warehouse=True).order_by("path"):
        warehouse, _ = Warehouse.objects.get_or_create(location=location)
        if keepers:
            warehouse.keepers.add(*keepers)
        warehouses.append(warehouse)
    receipts = 0
    if warehouses and found:
        main = warehouses[0]
        stocked = set(Stock.objects.filter(warehouse=main).values_list("item_id", flat=True))
        missing = [(i, r) for i, r in zip(found, rows, strict=True) if i.pk not in stocked]
        for start in range(0, len(missing), RECEIPT_LINES):
            chunk = missing[start : start + RECEIPT_LINES]
            result = services.document_create_and_post(
                actor=None,
                type="receipt",
                warehouse=main,
                supplier=supplier,
                invoice_no=f"DEMO-{start // RECEIPT_LINES + 1:04d}",
                reason="期初库存（演示数据）",
                idempotency_key=f"demo-opening-{main.location.code}-{chunk[0][0].code}",
                lines=[
                    {"item": item, "quantity": row.opening, "unit_cost": row.unit_cost}
                    for item, row in chunk
                ],
            )
            receipts += int(result.posted)
    return InventoryResult(
        categories=len(categories),
        items=len(found),
        warehouses=len(warehouses),
        receipts=receipts,
        items_created=created,
        items_updated=updated,
    )
