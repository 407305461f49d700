"""Concurrent counters on the real MariaDB (each thread its own connection): no scan lost or
counted twice, retries with the same scan id counted once, and closing while scans are in
flight leaves no scan on a closed stocktake."""

import queue
import random
import threading
import uuid

import pytest
from django.db import connection, connections, transaction
from django.utils import translation

from assets.tests.factories import AssetFactory, LocationFactory
from inventory.models import Stocktake, StocktakeExpected, StocktakeScan
from inventory.services import stocktakes as services
from inventory.services.stocktakes import ScanRefused

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
FOUND = ("found", "location_mismatch", "holder_mismatch")


def run_concurrently(work, tasks, *, threads=THREADS):
    pending = queue.Queue()
    for task in tasks:
        pending.put(task)
    start = threading.Barrier(threads)
    results, errors = [], []
    lock = threading.Lock()

    def worker():
        translation.activate("en")
        try:
            start.wait(timeout=60)
            while True:
                try:
                    task = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = work(task)
                except BaseException as exc:  # collected and asserted by the test
                    with lock:
                        errors.append((task, exc))
                else:
                    with lock:
                        results.append((task, outcome))
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in pool), "a scanning thread hung"
    return results, errors


@pytest.fixture
def setup(make_user):
    building = LocationFactory(name="楼A")
    rooms = [LocationFactory(parent=building, name=f"R{n}") for n in range(4)]
    for n in range(40):
        AssetFactory(tag=f"C-{n:03d}", location=rooms[n % 4])
    AssetFactory(tag="OFF-1", location=LocationFactory(name="楼B"))  # known, off the list
    manager = make_user("clerk")
    counters = [make_user("keeper") for _ in range(THREADS)]
    stocktake = services.stocktake_create(
        actor=manager, name="并发", locations=[building], counters=counters
    )
    services.stocktake_start(actor=manager, stocktake=stocktake)
    return {"stocktake": stocktake, "rooms": rooms, "manager": manager, "counters": counters}


def test_concurrent_counters_lose_and_duplicate_nothing(setup):
    stocktake, rooms, counters = setup["stocktake"], setup["rooms"], setup["counters"]
    rng = random.Random(6)
    firsts = [
        {"scan_id": uuid.uuid4(), "code": f"C-{n:03d}", "location": rooms[n % 4].pk}
        for n in range(30)
    ]
    retries = [dict(s) for s in rng.sample(firsts, 10)]  # same scan id again
    rescans = [dict(s, scan_id=uuid.uuid4()) for s in rng.sample(firsts, 10)]  # same label
    extras = [
        {"scan_id": uuid.uuid4(), "code": "OFF-1", "location": rooms[0].pk} for _ in range(4)
    ] + [{"scan_id": uuid.uuid4(), "code": "NOPE-1", "location": rooms[1].pk} for _ in range(3)]
    tasks = firsts + retries + rescans + extras
    rng.shuffle(tasks)

    def work(task):
        return services.stocktake_scan(
            actor=rng.choice(counters),
            stocktake_id=stocktake.pk,
            scan_id=task["scan_id"],
            code=task["code"],
            location_id=task["location"],
        )

    results, errors = run_concurrently(work, tasks)

    assert errors == []
    rows = StocktakeScan.objects.filter(stocktake=stocktake)
    distinct_ids = {t["scan_id"] for t in tasks}
    assert rows.count() == len(distinct_ids) == 30 + 10 + 4 + 3
    lines = StocktakeExpected.objects.filter(stocktake=stocktake)
    assert lines.filter(result__in=FOUND).count() == 30
    assert set(lines.filter(result__in=FOUND).values_list("tag", flat=True)) == {
        t["code"] for t in firsts
    }
    assert lines.filter(result="unexpected").count() == 1
    # exactly one first scan per asset; the re-scans, the extra OFF-1 and NOPE-1 duplicates
    assert rows.filter(result__in=FOUND).count() == 30
    assert rows.filter(result="unexpected").count() == 1
    assert rows.filter(result="duplicate").exclude(raw_code="NOPE-1").count() == 10 + 3
    # Unknown codes have no line to lock: two counters scanning the same unknown label at
    # the same instant may both record "unknown"; the report counts distinct codes.
    unknown = rows.filter(raw_code="NOPE-1")
    assert unknown.count() == 3
    assert unknown.filter(result="unknown").values("raw_code").distinct().count() == 1
    # a retry answers what its first send answered
    answers = {}
    for task, outcome in results:
        answers.setdefault(task["scan_id"], set()).add(outcome.result)
    assert all(len(a) == 1 for a in answers.values())


def test_closing_while_scanning_leaves_no_scan_after_the_close(setup):
    stocktake, rooms, counters = setup["stocktake"], setup["rooms"], setup["counters"]
    tasks = [("scan", n) for n in range(40)]
    tasks.insert(15, ("close", None))

    def work(task):
        kind, n = task
        if kind == "close":
            return services.stocktake_close(actor=setup["manager"], stocktake=stocktake)
        return services.stocktake_scan(
            actor=counters[n % THREADS],
            stocktake_id=stocktake.pk,
            scan_id=uuid.uuid4(),
            code=f"C-{n:03d}",
            location_id=rooms[n % 4].pk,
        )

    results, errors = run_concurrently(work, tasks)

    assert all(isinstance(exc, ScanRefused) for _task, exc in errors), errors
    assert Stocktake.objects.get(pk=stocktake.pk).status == "closed"
    recorded = StocktakeScan.objects.filter(stocktake=stocktake)
    lines = StocktakeExpected.objects.filter(stocktake=stocktake)
    # every recorded scan found its line before the close; nothing is pending any more
    assert recorded.count() == len(results) - 1 == lines.filter(result__in=FOUND).count()
    assert recorded.count() + len(errors) == 40
    assert lines.filter(result="pending").count() == 0
    assert lines.filter(result="missing").count() == 40 - recorded.count()


def _in_thread(work):
    """Run ``work`` on its own connection; returns (thread, done event, result holder)."""
    done, box = threading.Event(), {}

    def run():
        translation.activate("en")
        try:
            box["result"] = work()
        except BaseException as exc:  # asserted by the test
            box["error"] = exc
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done, box


def test_a_scan_waits_for_a_close_in_flight_and_is_then_refused(setup):
    stocktake, rooms, counters = setup["stocktake"], setup["rooms"], setup["counters"]
    closing, release = threading.Event(), threading.Event()

    def close():
        from django.db import transaction

        with transaction.atomic():  # the close is done but not committed yet
            services.stocktake_close(actor=setup["manager"], stocktake=stocktake)
            closing.set()
            release.wait(timeout=30)

    closer, _closed, _box = _in_thread(close)
    assert closing.wait(timeout=30)
    scanner, scanned, box = _in_thread(
        lambda: services.stocktake_scan(
            actor=counters[0],
            stocktake_id=stocktake.pk,
            scan_id=uuid.uuid4(),
            code="C-000",
            location_id=rooms[0].pk,
        )
    )

    assert not scanned.wait(timeout=1), "the scan did not wait for the close's lock"
    release.set()
    closer.join(timeout=30)
    scanner.join(timeout=30)

    assert isinstance(box.get("error"), ScanRefused) and box["error"].code == "closed"
    assert not StocktakeScan.objects.filter(stocktake=stocktake).exists()
    assert StocktakeExpected.objects.get(stocktake=stocktake, tag="C-000").result == "missing"


def test_a_close_waits_for_a_scan_in_flight_which_stays_recorded(setup):
    # An unknown code: the scan writes no line, only the shared lock makes the close wait.
    stocktake, rooms, counters = setup["stocktake"], setup["rooms"], setup["counters"]
    scanning, release = threading.Event(), threading.Event()

    def scan_and_hold():
        from django.db import transaction

        with transaction.atomic():  # the scan is done but not committed yet
            outcome = services.stocktake_scan(
                actor=counters[0],
                stocktake_id=stocktake.pk,
                scan_id=uuid.uuid4(),
                code="NOPE-9",
                location_id=rooms[0].pk,
            )
            scanning.set()
            release.wait(timeout=30)
        return outcome

    scanner, _scanned, box = _in_thread(scan_and_hold)
    assert scanning.wait(timeout=30)
    closer, closed, close_box = _in_thread(
        lambda: services.stocktake_close(actor=setup["manager"], stocktake=stocktake)
    )

    assert not closed.wait(timeout=1), "the close did not wait for the scan's shared lock"
    release.set()
    scanner.join(timeout=30)
    closer.join(timeout=30)

    assert "error" not in close_box and box["result"].result == "unknown"
    assert Stocktake.objects.get(pk=stocktake.pk).status == "closed"
    assert list(
        StocktakeScan.objects.filter(stocktake=stocktake).values_list("raw_code", "result")
    ) == [("NOPE-9", "unknown")]


# --- MariaDB: a listed asset's scan written in one compound statement -------------------------


def _in_transaction() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@in_transaction")
        return bool(cursor.fetchone()[0])


def _scan(setup, code, *, scan_id=None, room=0, counter=0):
    return services.stocktake_scan(
        actor=setup["counters"][counter],
        stocktake_id=setup["stocktake"].pk,
        scan_id=scan_id or uuid.uuid4(),
        code=code,
        location_id=setup["rooms"][room].pk,
    )


def test_listed_scans_take_the_one_statement_path_on_mariadb(setup):
    assert connection.vendor == "mysql" and connection.mysql_is_mariadb
    assert services._scans_in_one_statement()  # no transaction open: the path is taken
    with transaction.atomic():
        assert not services._scans_in_one_statement()  # a caller's transaction: not taken

    first = _scan(setup, "C-000")  # C-000 lives in room 0
    elsewhere = _scan(setup, "C-001", room=0)  # C-001 lives in room 1
    again = _scan(setup, "C-000", counter=1)

    assert (first.result, elsewhere.result, again.result) == (
        "found",
        "location_mismatch",
        "duplicate",
    )
    assert not _in_transaction()
    lines = StocktakeExpected.objects.filter(stocktake=setup["stocktake"])
    line = lines.get(tag="C-000")
    assert (line.result, line.method, line.found_location_id, line.found_by_id) == (
        "found",
        "scan",
        setup["rooms"][0].pk,
        setup["counters"][0].pk,
    )
    assert list(
        StocktakeScan.objects.filter(stocktake=setup["stocktake"])
        .order_by("id")
        .values_list("raw_code", "result", "line_id", "counter_id")
    ) == [
        ("C-000", "found", line.pk, setup["counters"][0].pk),
        ("C-001", "location_mismatch", lines.get(tag="C-001").pk, setup["counters"][0].pk),
        ("C-000", "duplicate", line.pk, setup["counters"][1].pk),
    ]


def test_a_failing_one_statement_scan_rolls_back_its_line_and_leaves_no_transaction(setup):
    # The same scan id sent again with another code: the statement marks C-002's line, then
    # its insert hits the unique scan id; the exit handler rolls the mark back.
    scan_id = uuid.uuid4()
    first = _scan(setup, "C-000", scan_id=scan_id)
    replay = _scan(setup, "C-002", scan_id=scan_id, room=2)

    assert first.result == "found" and replay.replay and replay.tag == "C-000"
    assert not _in_transaction()
    lines = StocktakeExpected.objects.filter(stocktake=setup["stocktake"])
    assert lines.get(tag="C-002").result == "pending"
    assert StocktakeScan.objects.filter(stocktake=setup["stocktake"]).count() == 1
    assert _scan(setup, "C-002", room=2).result == "found"  # the connection is usable


def test_a_one_statement_scan_of_a_closed_stocktake_is_refused_and_writes_nothing(setup):
    services.stocktake_close(actor=setup["manager"], stocktake=setup["stocktake"])

    with pytest.raises(ScanRefused) as refused:
        _scan(setup, "C-000")

    assert refused.value.code == "closed"
    assert not _in_transaction()
    assert not StocktakeScan.objects.filter(stocktake=setup["stocktake"]).exists()
