"""Concurrency on the real MariaDB: each thread has its own database connection.

- 200 issues of one unit against a balance of 100, posted by 20 threads at once: exactly 100
  posted, 100 refused with the clear message, balance 0, the ledger a consistent chain, and
  the 100 numbers without gaps or duplicates.
- The same draft posted by 10 threads at once: posted once.
- Documents touching the same two items in opposite line orders: no deadlock (stock rows are
  locked in (item, warehouse) order).
- Document numbers under concurrency: distinct and without gaps.
"""

import queue
import threading
from decimal import Decimal as D

import pytest
from django.db import connection, connections
from django.utils import timezone, translation

from assets.tests.factories import PersonFactory
from inventory import services
from inventory.models import Document, LedgerEntry, Stock

from .factories import ItemFactory, WarehouseFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def run_concurrently(work, tasks, *, threads=THREADS):
    """Run ``work(task)`` for every task on ``threads`` threads started together; returns
    (results, errors) in completion order."""
    pending = queue.Queue()
    for task in tasks:
        pending.put(task)
    start = threading.Barrier(threads)
    results, errors = [], []
    lock = threading.Lock()

    def worker():
        translation.activate("en")  # per thread, like the test's own language
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
                        errors.append(exc)
                else:
                    with lock:
                        results.append(outcome)
        finally:
            connections.close_all()  # this thread's own connection

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in pool), "a posting thread hung"
    return results, errors


def assert_ledger_is_a_chain(item, warehouse):
    """Each entry's balance and value follow from the one before; the last equals the stock."""
    quantity, value = D("0"), D("0")
    for entry in LedgerEntry.objects.filter(item=item, warehouse=warehouse).order_by("id"):
        quantity += entry.quantity
        value += entry.value_change
        assert (entry.balance_after, entry.value_after) == (quantity, value), entry.pk
    stock = Stock.objects.get(item=item, warehouse=warehouse)
    assert (stock.quantity, stock.value) == (quantity, value)


def test_200_concurrent_one_unit_issues_against_100_post_exactly_100():
    # given: 100 boxes at 3.00 and 200 draft issues of one box each
    assert connection.vendor == "mysql", "the race needs the real MariaDB"
    keeper = _keeper()
    warehouse = WarehouseFactory(keepers=[keeper])
    item = ItemFactory(name="硒鼓", code="HOT-1", unit="盒")
    person = PersonFactory()
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 100, "unit_cost": "3.00"}],
    )
    drafts = [
        services.document_create(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            lines=[{"item": item, "quantity": 1}],
        )
        for _ in range(200)
    ]

    # when: 20 threads post them all at once
    def post(document):
        try:
            return services.document_post(document=document, actor=keeper)
        except services.StockShortage as exc:
            return exc

    results, errors = run_concurrently(post, drafts)

    # then
    assert errors == []
    posted = [r for r in results if isinstance(r, services.PostResult) and r.posted]
    refused = [r for r in results if isinstance(r, services.StockShortage)]
    assert (len(posted), len(refused), len(results)) == (100, 100, 200)
    assert {r.messages[0] for r in refused} == {
        f"Not enough stock of 硒鼓（HOT-1） in {warehouse}: 0盒 available, 1盒 requested."
    }
    assert Stock.objects.values_list("quantity", "value").get(item=item) == (D("0"), D("0.00"))
    issues = Document.objects.filter(type="issue")
    assert issues.filter(status="posted").count() == 100
    assert issues.filter(status="draft", number__isnull=True).count() == 100
    day = f"{timezone.localdate():%Y%m%d}"
    numbers = sorted(issues.filter(status="posted").values_list("number", flat=True))
    assert numbers == [f"CK-{day}-{n:04d}" for n in range(1, 101)]
    assert LedgerEntry.objects.filter(item=item).count() == 101
    assert LedgerEntry.objects.filter(document__type="issue").count() == 100
    assert set(
        LedgerEntry.objects.filter(document__type="issue").values_list("quantity", "value_change")
    ) == {(D("-1"), D("-3.00"))}
    assert_ledger_is_a_chain(item, warehouse)


def test_one_draft_posted_by_ten_threads_at_once_is_posted_once():
    keeper = _keeper()
    warehouse = WarehouseFactory(keepers=[keeper])
    item = ItemFactory()
    draft = services.document_create(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 5, "unit_cost": "2.00"}],
    )

    results, errors = run_concurrently(
        lambda _: services.document_post(document=Document.objects.get(pk=draft.pk), actor=keeper),
        range(10),
        threads=10,
    )

    assert errors == []
    assert sorted(r.posted for r in results) == [False] * 9 + [True]
    assert LedgerEntry.objects.count() == 1
    assert Stock.objects.values_list("quantity", "value").get() == (D("5"), D("10.00"))


def test_the_same_request_sent_by_ten_threads_at_once_posts_once():
    keeper = _keeper()
    warehouse = WarehouseFactory(keepers=[keeper])
    item = ItemFactory()
    person = PersonFactory()
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 5, "unit_cost": "2.00"}],
    )

    results, errors = run_concurrently(
        lambda _: services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            idempotency_key="scanner-7-000123",
            lines=[{"item": item, "quantity": 1}],
        ),
        range(10),
        threads=10,
    )

    assert errors == []
    assert sorted(r.posted for r in results) == [False] * 9 + [True]
    assert len({r.document.pk for r in results}) == 1
    assert Document.objects.filter(type="issue").count() == 1
    assert Stock.objects.values_list("quantity", flat=True).get() == D("4")


def test_lines_in_opposite_orders_do_not_deadlock():
    # given: two items in stock; documents listing them A, B and B, A
    keeper = _keeper()
    warehouse = WarehouseFactory(keepers=[keeper])
    other = WarehouseFactory(keepers=[keeper])
    a, b = ItemFactory(), ItemFactory()
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[
            {"item": a, "quantity": 1000, "unit_cost": "1.00"},
            {"item": b, "quantity": 1000, "unit_cost": "2.00"},
        ],
    )
    drafts = []
    for n in range(80):
        pair = [a, b] if n % 2 else [b, a]
        drafts.append(
            services.document_create(
                actor=keeper,
                type="transfer",
                warehouse=warehouse,
                to_warehouse=other,
                lines=[{"item": i, "quantity": 1} for i in pair],
            )
        )

    # when
    results, errors = run_concurrently(
        lambda d: services.document_post(document=d, actor=keeper), drafts
    )

    # then
    assert errors == []
    assert all(r.posted for r in results) and len(results) == 80
    for item, cost in ((a, D("1.00")), (b, D("2.00"))):
        assert Stock.objects.values_list("quantity", "value").get(item=item, warehouse=other) == (
            D("80"),
            80 * cost,
        )
        assert_ledger_is_a_chain(item, warehouse)
        assert_ledger_is_a_chain(item, other)


def test_document_numbers_are_distinct_and_gapless_under_concurrency():
    keeper = _keeper()
    warehouse = WarehouseFactory(keepers=[keeper])
    items = [ItemFactory() for _ in range(50)]

    results, errors = run_concurrently(
        lambda item: services.document_create_and_post(
            actor=keeper,
            type="receipt",
            warehouse=warehouse,
            lines=[{"item": item, "quantity": 1, "unit_cost": "1"}],
        ),
        items,
        threads=16,
    )

    assert errors == []
    day = f"{timezone.localdate():%Y%m%d}"
    assert sorted(r.document.number for r in results) == [f"RK-{day}-{n:04d}" for n in range(1, 51)]


def _keeper():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from itassets.roles import ROLES

    user = get_user_model().objects.create_user(username=f"keeper-{timezone.now():%f}")
    user.groups.add(Group.objects.get(name=ROLES["keeper"].group))
    return user
