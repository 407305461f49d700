"""A counted asset stocktake for the report, apply and self-confirmation tests.

楼A (rooms 101 and 102) is counted; 楼B is outside the scope. Alice, Bob and Carol have logins.

| tag | register                     | counted                           | result            |
|-----|------------------------------|-----------------------------------|-------------------|
| A-1 | 101, Alice, in use, 1000     | at 101                            | found             |
| A-2 | 101, Alice, in use, 2000     | at 102                            | location differs  |
| A-3 | 102, Alice, in use, 3000     | at 102, Bob says he uses it       | holder differs    |
| A-4 | 102, in stock, 4000          | not found                         | missing           |
| A-5 | 101, in stock, 500           | at 102                            | location differs  |
| A-6 | 102, Carol, in use, 600      | not found                         | missing           |
| B-1 | 楼B, Bob, in use, 700          | at 101 (off the list)             | unexpected        |
| —   | "UNK-1" twice, "=1+1" once   |                                   | unknown codes     |
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from assets.lifecycle import Status
from assets.tests.factories import AssetFactory, LocationFactory, PersonFactory
from inventory.services import stocktakes as services


def build_site(make_user) -> dict:
    campus = LocationFactory(name="园区", kind="campus")
    building = LocationFactory(parent=campus, name="楼A", kind="building")
    room1 = LocationFactory(parent=building, name="101")
    room2 = LocationFactory(parent=building, name="102")
    other = LocationFactory(parent=campus, name="楼B", kind="building")
    users = {
        name: make_user("employee", username=name.lower()) for name in ("Alice", "Bob", "Carol")
    }
    people = {
        name: PersonFactory(name=name, user=users[name]) for name in ("Alice", "Bob", "Carol")
    }
    alice, bob, carol = people["Alice"], people["Bob"], people["Carol"]

    def asset(tag, location, cost, holder=None):
        status = Status.IN_USE if holder else Status.IN_STOCK
        return AssetFactory(
            tag=tag,
            location=location,
            holder=holder,
            department=holder.department if holder else None,
            status=status,
            cost=Decimal(cost),
        )

    return {
        "building": building,
        "room1": room1,
        "room2": room2,
        "other": other,
        "users": users,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "A-1": asset("A-1", room1, "1000.00", alice),
        "A-2": asset("A-2", room1, "2000.00", alice),
        "A-3": asset("A-3", room2, "3000.00", alice),
        "A-4": asset("A-4", room2, "4000.00"),
        "A-5": asset("A-5", room1, "500.00"),
        "A-6": asset("A-6", room2, "600.00", carol),
        "B-1": asset("B-1", other, "700.00", bob),
    }


def start(site, *, manager, counter):
    stocktake = services.stocktake_create(
        actor=manager, name="2026 年度盘点", locations=[site["building"]], counters=[counter]
    )
    return services.stocktake_start(actor=manager, stocktake=stocktake)


def scan(stocktake, counter, code, location, **kw):
    return services.stocktake_scan(
        actor=counter,
        stocktake_id=stocktake.pk,
        scan_id=kw.pop("scan_id", uuid.uuid4()),
        code=code,
        location_id=location.pk,
        **kw,
    )


def count_all(stocktake, site, counter) -> None:
    """The counts of the table above."""
    scan(stocktake, counter, "A-1", site["room1"])
    scan(stocktake, counter, "A-2", site["room2"])
    scan(stocktake, counter, "A-3", site["room2"], holder=site["bob"])
    scan(stocktake, counter, "A-5", site["room2"])
    scan(stocktake, counter, "B-1", site["room1"])
    scan(stocktake, counter, "UNK-1", site["room1"], note="无标签显示器")
    scan(stocktake, counter, "UNK-1", site["room2"])
    scan(stocktake, counter, "=1+1", site["room2"])


def closed_stocktake(site, *, manager, counter):
    stocktake = start(site, manager=manager, counter=counter)
    count_all(stocktake, site, counter)
    return services.stocktake_close(actor=manager, stocktake=stocktake)
