"""Bulk data for the benchmarks: the demo organisation (``assets.demo``), a catalog, and N
assets inserted with ``bulk_create`` in batches of 5,000 with tags reserved up front.

Deterministic for a seed. No history rows are written (``bulk_create`` bypasses
simple-history): the benchmarks read the register, they do not audit it.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F

BATCH = 5_000
PEOPLE = 3_000

# category tree: (code, name, asset class, [(leaf code, leaf name, [(manufacturer, model
# name, model number, cost range CNY)])])
CATALOG = [
    (
        "PC",
        "计算机设备",
        [
            (
                "PC-LAPTOP",
                "笔记本电脑",
                [
                    ("联想", "ThinkPad X1 Carbon Gen 12", "21KC", (9000, 16000)),
                    ("联想", "ThinkPad T14 Gen 5", "21ML", (6500, 9500)),
                    ("戴尔", "Latitude 7450", "LAT7450", (8000, 12000)),
                    ("华为", "MateBook X Pro", "VGHH", (8500, 12500)),
                    ("苹果", "MacBook Pro 14", "MX2E3CH", (12999, 19999)),
                ],
            ),
            (
                "PC-DESKTOP",
                "台式机",
                [
                    ("联想", "ThinkCentre M90q", "12EH", (4500, 7000)),
                    ("戴尔", "OptiPlex 7010", "OPT7010", (4000, 6500)),
                    ("华为", "擎云 B730E", "B730E", (4200, 6000)),
                ],
            ),
            (
                "PC-SERVER",
                "服务器",
                [
                    ("戴尔", "PowerEdge R760", "R760", (45000, 120000)),
                    ("华为", "FusionServer 2288H V7", "2288HV7", (40000, 110000)),
                    ("浪潮", "NF5280M7", "NF5280M7", (38000, 100000)),
                ],
            ),
        ],
    ),
    (
        "NET",
        "网络设备",
        [
            (
                "NET-SWITCH",
                "交换机",
                [
                    ("华为", "S5735-L48T4X", "S5735", (3500, 9000)),
                    ("华三", "S5130S-52S-EI", "S5130S", (2500, 6000)),
                ],
            ),
            (
                "NET-FW",
                "防火墙",
                [("深信服", "AF-1000", "AF1000", (20000, 60000))],
            ),
            (
                "NET-AP",
                "无线AP",
                [("华为", "AirEngine 5762", "AE5762", (1200, 2500))],
            ),
        ],
    ),
    (
        "OFFICE",
        "办公设备",
        [
            (
                "OFFICE-MONITOR",
                "显示器",
                [
                    ("戴尔", "U2723QE", "U2723QE", (2800, 3800)),
                    ("飞利浦", "27E1N5600", "27E1N5600", (1200, 1800)),
                ],
            ),
            (
                "OFFICE-PRINTER",
                "打印机",
                [
                    ("惠普", "LaserJet Pro M404dn", "M404DN", (1800, 2600)),
                    ("佳能", "imageRUNNER 2625", "IR2625", (9000, 15000)),
                ],
            ),
            (
                "OFFICE-PROJECTOR",
                "投影仪",
                [("爱普生", "CB-FH52", "CBFH52", (4000, 6000))],
            ),
        ],
    ),
    (
        "MOBILE",
        "移动设备",
        [
            (
                "MOBILE-PHONE",
                "手机",
                [
                    ("华为", "Mate 60", "BRA-AL00", (5000, 7000)),
                    ("苹果", "iPhone 15", "A3092", (5000, 8000)),
                ],
            ),
            (
                "MOBILE-TABLET",
                "平板电脑",
                [("苹果", "iPad Air", "A2588", (4000, 6000))],
            ),
        ],
    ),
]
LOW_VALUE = {"MOBILE-PHONE", "OFFICE-MONITOR", "NET-AP"}

# Status mix of a mature register.
STATUS_WEIGHTS = {
    "in_use": 55,
    "in_stock": 18,
    "on_loan": 4,
    "in_repair": 3,
    "pending_disposal": 3,
    "disposed": 11,
    "lost": 1,
    "ordered": 5,
}


def _catalog():
    from assets.models import AssetClass, AssetModel, Category, Manufacturer

    models = []
    for code, name, leaves in CATALOG:
        root = Category.objects.filter(code=code).first() or Category.objects.add_root(
            instance=Category(code=code, name=name)
        )
        for leaf_code, leaf_name, items in leaves:
            leaf = Category.objects.filter(code=leaf_code).first()
            if leaf is None:
                asset_class = AssetClass.LOW_VALUE if leaf_code in LOW_VALUE else AssetClass.FIXED
                leaf = Category.objects.add_child(
                    root, instance=Category(code=leaf_code, name=leaf_name, asset_class=asset_class)
                )
            for mfr_name, model_name, number, cost in items:
                mfr, _ = Manufacturer.objects.get_or_create(name=mfr_name)
                model, _ = AssetModel.objects.get_or_create(
                    manufacturer=mfr,
                    model_number=number,
                    defaults={"category": leaf, "name": f"{mfr_name} {model_name}"},
                )
                models.append((model, cost))
    return models


def _reserve_tags(count: int) -> list[str]:
    """Reserve ``count`` consecutive tags in one step (the service's F() update, at once)."""
    from assets.models import TagSequence
    from assets.services import tag_prefix

    prefix, seq_format = tag_prefix()
    with transaction.atomic():
        TagSequence.objects.get_or_create(prefix=prefix)
        TagSequence.objects.filter(prefix=prefix).update(last_value=F("last_value") + count)
        last = TagSequence.objects.select_for_update().get(prefix=prefix).last_value
    return [prefix + seq_format.format(seq=n) for n in range(last - count + 1, last + 1)]


def _add_months(d: date, months: int) -> date:
    month0 = d.month - 1 + months
    return date(d.year + month0 // 12, month0 % 12 + 1, min(d.day, 28))


def seed(*, assets: int, seed: int = 2026, log=print) -> None:
    """The demo organisation, a catalog and ``assets`` assets (added to what exists)."""
    from assets import demo
    from assets.models import Asset, Location, Supplier

    started = time.monotonic()
    departments, _ = demo.seed_departments()
    demo.seed_locations()
    people, _ = demo.seed_people(seed=seed, count=PEOPLE, departments=departments)
    models = _catalog()
    suppliers = [
        Supplier.objects.get_or_create(name=n)[0]
        for n in ("京东企业购", "神州数码", "联强国际", "伟仕佳杰", "本地经销商")
    ]
    rooms = list(
        Location.objects.filter(is_warehouse=False, kind=Location.Kind.ROOM).values_list(
            "id", flat=True
        )
    )
    warehouses = list(Location.objects.filter(is_warehouse=True).values_list("id", flat=True))
    warehouses = warehouses or rooms
    person_rows = [(p.id, p.department_id) for p in people.values()]
    dept_ids = [d.id for d in departments.values()]
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    log(f"# reference data ready in {time.monotonic() - started:.1f} s")

    tags = _reserve_tags(assets)
    # Benchmark data, not security: a seeded generator makes runs comparable.
    rng = random.Random(seed)
    today = date.today()
    done = 0
    while done < assets:
        batch = []
        for i in range(done, min(done + BATCH, assets)):
            model, (low, high) = rng.choice(models)
            status = rng.choices(statuses, weights)[0]
            purchased = today - timedelta(days=rng.randrange(0, 6 * 365))
            holder_id = department_id = None
            if status in ("in_use", "on_loan"):
                holder_id, department_id = rng.choice(person_rows)
                location_id = rng.choice(rooms)
            elif status in ("disposed", "lost"):
                location_id = None
                department_id = rng.choice(dept_ids) if rng.random() < 0.5 else None
            else:
                location_id = rng.choice(warehouses)
            batch.append(
                Asset(
                    tag=tags[i],
                    model_id=model.id,
                    category_id=model.category_id,
                    manufacturer_id=model.manufacturer_id,
                    name=model.name,
                    # unique per manufacturer: i * 7919 is a permutation modulo 10**9
                    serial_number=f"SN{model.manufacturer_id:02d}{(i * 7919 + 1234) % 10**9:09d}",
                    status=status,
                    department_id=department_id,
                    holder_id=holder_id,
                    location_id=location_id,
                    supplier_id=rng.choice(suppliers).id,
                    order_number=f"PO{purchased:%Y%m}{i % 1000:04d}",
                    purchase_date=purchased,
                    cost=Decimal(rng.randrange(low * 100, high * 100)) / 100,
                    warranty_end=_add_months(purchased, 36),
                )
            )
        with transaction.atomic():
            Asset.objects.bulk_create(batch, batch_size=BATCH)
        done += len(batch)
        if done % 50_000 == 0 or done == assets:
            log(f"# {done:,} assets inserted ({time.monotonic() - started:.1f} s)")
