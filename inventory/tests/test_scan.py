"""A scan (an issue of one line, by ids or barcode, as the scanner endpoint sends it): one
read for its checks, a refusal without the stock row's lock when that read shows too little
stock, replays recognised by that same read, and its writes in one statement (MariaDB).

Outside a test transaction (``transaction=True``): the lock-free refusal is only taken when
the read is a statement of its own, as it is in a request.
"""

from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assets.models import TagSequence
from inventory import services, signals
from inventory.models import Document, LedgerEntry
from inventory.services import documents, statements

from .conftest import balance, ledger, receive
from .factories import ItemFactory, WarehouseFactory
from .test_concurrency import assert_ledger_is_a_chain, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stocked(keeper, warehouse, item):
    return receive(keeper, warehouse, item, 1, "2.00")


def scan(keeper, warehouse, person, quantity, *, key=None, **line):
    """The service call the scanner endpoint makes: ids, not objects."""
    return services.document_create_and_post(
        actor=keeper,
        type="issue",
        warehouse=warehouse.pk,
        person=person.pk,
        idempotency_key=key,
        lines=[{**line, "quantity": quantity}],
    )


def state(item, warehouse):
    return Document.objects.count(), LedgerEntry.objects.count(), balance(item, warehouse)


def test_a_short_scan_is_refused_by_one_read_without_the_lock(keeper, warehouse, stocked, person):
    # given: 1 box in stock
    before = state(stocked, warehouse)
    series = TagSequence.objects.filter(prefix=f"CK-{timezone.localdate():%Y%m%d}-").count()

    # when: a scan asks for 2
    with CaptureQueriesContext(connection) as queries, pytest.raises(services.StockShortage) as exc:
        scan(keeper, warehouse, person, 2, key="scanner-9-0001", item=stocked.pk)

    # then: the locked check's message, from one plain read; no transaction, nothing written
    assert exc.value.messages == [
        f"Not enough stock of 硒鼓（TONER-26A） in {warehouse}: 1盒 available, 2盒 requested."
    ]
    assert (exc.value.available, exc.value.requested) == (D("1"), D("2"))
    assert len(queries) == 1
    assert "FOR UPDATE" not in queries[0]["sql"]
    assert state(stocked, warehouse) == before
    assert TagSequence.objects.filter(prefix__startswith="CK-").count() == series


def test_a_scan_of_an_item_never_stocked_is_refused_without_the_lock(keeper, warehouse, person):
    item = ItemFactory(name="墨盒", code="INK-1", unit="个")
    keeper.has_perm("inventory.post_document")  # the user's permissions read, as in a request

    with CaptureQueriesContext(connection) as queries, pytest.raises(services.StockShortage) as exc:
        scan(keeper, warehouse, person, 1, item=item.pk)

    assert exc.value.messages == [
        f"Not enough stock of 墨盒（INK-1） in {warehouse}: 0个 available, 1个 requested."
    ]
    assert len(queries) == 1
    assert balance(item, warehouse) is None


def test_a_key_refused_without_the_lock_posts_when_sent_again_after_a_receipt(
    keeper, warehouse, stocked, person
):
    # given: a scan refused (nothing saved, so its key holds no document)
    with pytest.raises(services.StockShortage):
        scan(keeper, warehouse, person, 2, key="scanner-9-0002", item=stocked.pk)
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": stocked, "quantity": 4, "unit_cost": "2.00"}],
    )

    # when: the scanner sends it again
    result = scan(keeper, warehouse, person, 2, key="scanner-9-0002", item=stocked.pk)

    # then: posted now, once
    assert result.posted
    assert Document.objects.filter(idempotency_key="scanner-9-0002").count() == 1
    assert balance(stocked, warehouse) == (D("3"), D("6.00"), D("2"))


def test_a_replayed_scan_answers_the_first_result_even_with_the_stock_gone(
    keeper, warehouse, stocked, person
):
    # given: a scan that took the last box
    first = scan(keeper, warehouse, person, 1, key="scanner-9-0003", item=stocked.pk)
    before = state(stocked, warehouse)

    # when: sent again; the read finds the key's document before any stock check
    again = scan(keeper, warehouse, person, 1, key="scanner-9-0003", item=stocked.pk)

    # then: the first document, "already posted", nothing changed (not a refusal)
    assert (first.posted, again.posted) == (True, False)
    assert again.document.pk == first.document.pk
    assert again.message == f"{first.document.number} is already posted; nothing was changed."
    assert state(stocked, warehouse) == before


def test_a_scan_by_barcode_or_code_posts_with_the_recipients_department(keeper, warehouse, person):
    item = ItemFactory(name="硒鼓", code="TONER-88", barcode="6901234500001", unit="盒")
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 5, "unit_cost": "3.00"}],
    )

    by_barcode = scan(keeper, warehouse, person, 1, barcode="6901234500001")
    by_code = scan(keeper, warehouse, person, 2, barcode="TONER-88")

    for result in (by_barcode, by_code):
        document = Document.objects.get(pk=result.document.pk)
        assert (document.person, document.department) == (person, person.department)
        assert document.lines.get().item == item
    assert balance(item, warehouse) == (D("2"), D("6.00"), D("3"))


def test_the_scan_read_finds_what_the_orm_finds(keeper, warehouse, stocked, person):
    posted = scan(keeper, warehouse, person, 1, key="scanner-9-0004", item=stocked.pk)

    read = statements.scan_read(
        warehouse_id=warehouse.pk,
        item_id=stocked.pk,
        code=None,
        person_id=person.pk,
        user_id=keeper.pk,
        key="scanner-9-0004",
    )
    missing = statements.scan_read(
        warehouse_id=warehouse.pk + 1000,
        item_id=None,
        code="NO-SUCH-CODE",
        person_id=person.pk + 1000,
        user_id=keeper.pk,
        key="scanner-9-9999",
    )

    assert (read.warehouse, read.item, read.person) == (warehouse, stocked, person)
    for found in (read.warehouse, read.warehouse.location, read.item, read.person):
        orm = type(found).objects.get(pk=found.pk)
        fields = [f.attname for f in type(found)._meta.concrete_fields]
        assert [getattr(found, f) for f in fields] == [getattr(orm, f) for f in fields]
    assert read.person.department == person.department
    assert (read.keeps, read.on_hand, read.existing_id) == (True, D("0"), posted.document.pk)
    assert isinstance(read.on_hand, D)
    assert (missing.warehouse, missing.item, missing.person) == (None, None, None)
    assert (missing.keeps, missing.on_hand, missing.existing_id) == (False, None, None)


def test_an_administrator_who_keeps_no_warehouse_may_scan(make_user, warehouse, stocked, person):
    admin = make_user("admin")

    result = scan(admin, warehouse, person, 1, item=stocked.pk)

    assert result.posted
    assert balance(stocked, warehouse) == (D("0"), D("0.00"), D("2"))


def test_a_user_who_keeps_another_warehouse_is_refused(make_user, warehouse, stocked, person):
    other_keeper = make_user("keeper")
    WarehouseFactory(keepers=[other_keeper])

    with pytest.raises(PermissionDenied):
        scan(other_keeper, warehouse, person, 1, item=stocked.pk)

    assert balance(stocked, warehouse) == (D("1"), D("2.00"), D("2"))


@pytest.mark.parametrize("last", [0, 9998, 9999, 123455])
def test_numbers_written_in_one_statement_are_formatted_as_number_allocate_does(
    keeper, warehouse, item, person, last
):
    day = timezone.localdate()
    TagSequence.objects.create(prefix=f"RK-{day:%Y%m%d}-", last_value=last)

    result = services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 1, "unit_cost": "1.00"}],
    )

    expected = f"RK-{day:%Y%m%d}-{last + 1:04d}"
    assert result.document.number == expected
    assert Document.objects.get(pk=result.document.pk).number == expected


def test_a_document_of_many_lines_written_in_one_statement_links_each_entry_to_its_line(
    keeper, warehouse, person
):
    a, b = ItemFactory(unit="个"), ItemFactory(unit="个")
    receipt = services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[
            {"item": a, "quantity": 3, "unit_cost": "1.00"},
            {"item": b, "quantity": 2, "unit_cost": "5.00"},
            {"item": a, "quantity": 1, "unit_cost": "3.00"},
        ],
    ).document

    lines = list(receipt.lines.order_by("id"))
    assert [(line.item, line.quantity, line.amount) for line in lines] == [
        (a, D("3"), D("3.00")),
        (b, D("2"), D("10.00")),
        (a, D("1"), D("3.00")),
    ]
    entries = LedgerEntry.objects.filter(document=receipt).order_by("id")
    assert [(e.line_id, e.quantity, e.balance_after) for e in entries] == [
        (lines[0].pk, D("3"), D("3")),
        (lines[1].pk, D("2"), D("2")),
        (lines[2].pk, D("1"), D("4")),
    ]
    assert ledger(a, warehouse)[-1] == (D("1"), D("4"), D("3"), D("3.00"), D("6.00"))
    assert balance(a, warehouse) == (D("4"), D("6.00"), D("1.5"))


def test_60_concurrent_scans_against_30_post_exactly_30(keeper, warehouse, person):
    # given: 30 boxes; 60 scans by id, each with its own key
    item = ItemFactory(name="硒鼓", code="HOT-2", unit="盒")
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 30, "unit_cost": "3.00"}],
    )

    def work(n):
        try:
            return scan(keeper, warehouse, person, 1, key=f"race-{n}", item=item.pk)
        except services.StockShortage as exc:
            return exc

    # when: 10 threads send them at once (refusals with or without the lock)
    results, errors = run_concurrently(work, range(60), threads=10)

    # then
    assert errors == []
    posted = [r for r in results if isinstance(r, services.PostResult) and r.posted]
    refused = [r for r in results if isinstance(r, services.StockShortage)]
    assert (len(posted), len(refused)) == (30, 30)
    assert {r.messages[0] for r in refused} == {
        f"Not enough stock of 硒鼓（HOT-2） in {warehouse}: 0盒 available, 1盒 requested."
    }
    day = f"{timezone.localdate():%Y%m%d}"
    numbers = sorted(Document.objects.filter(type="issue").values_list("number", flat=True))
    assert numbers == [f"CK-{day}-{n:04d}" for n in range(1, 31)]
    assert balance(item, warehouse) == (D("0"), D("0.00"), D("3"))
    assert_ledger_is_a_chain(item, warehouse)


def test_the_same_scan_sent_by_ten_threads_at_once_posts_once(keeper, warehouse, person):
    item = ItemFactory()
    services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 1, "unit_cost": "2.00"}],
    )

    results, errors = run_concurrently(
        lambda _: scan(keeper, warehouse, person, 1, key="scanner-9-0005", item=item.pk),
        range(10),
        threads=10,
    )

    # the last box taken once; every other sender gets the first document back
    assert errors == []
    assert sorted(r.posted for r in results) == [False] * 9 + [True]
    assert len({r.document.pk for r in results}) == 1
    assert balance(item, warehouse) == (D("0"), D("0.00"), D("2"))


def test_a_scan_committed_by_its_writing_statement_still_signals_once_after_commit(
    keeper, warehouse, stocked, person
):
    seen = []

    def receiver(sender, document_id, **kwargs):
        # sent after the commit: another connection already sees the posted document
        seen.append((document_id, connection.in_atomic_block))

    signals.document_posted.connect(receiver)
    try:
        with CaptureQueriesContext(connection) as queries:
            result = scan(keeper, warehouse, person, 1, key="scanner-9-0006", item=stocked.pk)
    finally:
        signals.document_posted.disconnect(receiver)

    assert seen == [(result.document.pk, False)]
    if connection.mysql_is_mariadb:  # the writes, COMMIT last, in one statement
        writes = [q["sql"] for q in queries if q["sql"].startswith("BEGIN NOT ATOMIC")]
        assert len(writes) == 1
        assert "COMMIT;" in writes[0]
    assert Document.objects.get(pk=result.document.pk).status == "posted"


def test_a_scan_inside_a_callers_transaction_leaves_the_commit_to_the_caller(
    keeper, warehouse, stocked, person
):
    # given: a caller's transaction that posts a scan and then fails
    before = state(stocked, warehouse)
    with pytest.raises(RuntimeError), transaction.atomic():
        result = scan(keeper, warehouse, person, 1, key="scanner-9-0007", item=stocked.pk)
        assert result.posted
        raise RuntimeError

    # then: the scan's writes did not commit the caller's transaction: all rolled back
    assert state(stocked, warehouse) == before
    assert not Document.objects.filter(idempotency_key="scanner-9-0007").exists()


def test_a_short_scan_inside_a_callers_transaction_is_refused_under_the_lock(
    keeper, warehouse, stocked, person
):
    with (
        CaptureQueriesContext(connection) as queries,
        transaction.atomic(),
        pytest.raises(services.StockShortage) as exc,
    ):
        scan(keeper, warehouse, person, 2, item=stocked.pk)

    assert exc.value.messages == [
        f"Not enough stock of 硒鼓（TONER-26A） in {warehouse}: 1盒 available, 2盒 requested."
    ]
    assert any("FOR UPDATE" in q["sql"] for q in queries)


def test_the_rows_written_in_one_statement_are_prepared_as_model_save_prepares_them(
    keeper, warehouse, stocked, person
):
    result = scan(keeper, warehouse, person, 1, item=stocked.pk)
    document = Document.objects.get(pk=result.document.pk)
    line = document.lines.get()
    entry = LedgerEntry.objects.get(line=line)

    for obj in (document, line, entry):
        _head, fields, marks = statements._insert_parts(type(obj), connection.vendor)
        _sql, params = statements._values(obj, fields, marks)
        assert params == [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]


# --- MariaDB: a one-line issue posted by one statement that locks, takes and commits ----------


def in_transaction() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@in_transaction")
        return bool(cursor.fetchone()[0])


@pytest.fixture
def mariadb():
    assert connection.vendor == "mysql" and connection.mysql_is_mariadb


@pytest.fixture
def past_the_free_check(monkeypatch):
    """As if the stock had gone between the lock-free read and the posting (a race): the
    locked check inside the statement is the one that refuses."""
    monkeypatch.setattr(documents._ScanContext, "shortage", lambda self, draft: None)


def test_a_scan_issue_is_the_read_and_one_statement_that_commits(
    mariadb, keeper, warehouse, stocked, person
):
    with CaptureQueriesContext(connection) as queries:
        result = scan(keeper, warehouse, person, 1, key="scanner-9-0010", item=stocked.pk)

    assert result.posted
    assert len(queries) == 2  # the read; then lock, checks, writes and COMMIT in one
    write = queries[1]["sql"]
    assert write.startswith("BEGIN NOT ATOMIC") and "FOR UPDATE" in write and "COMMIT" in write
    assert not in_transaction()
    assert documents._issue_in_one_statement(result.document, [result.document.lines.get()])
    with transaction.atomic():  # inside a caller's transaction: the caller commits
        assert not documents._issue_in_one_statement(result.document, [result.document.lines.get()])


def test_a_scan_issue_refused_under_the_lock_writes_nothing_and_leaves_no_transaction(
    mariadb, keeper, warehouse, stocked, person, past_the_free_check
):
    before = state(stocked, warehouse)
    sequences = list(TagSequence.objects.values_list("prefix", "last_value"))

    with pytest.raises(services.StockShortage) as exc:
        scan(keeper, warehouse, person, 2, key="scanner-9-0011", item=stocked.pk)
    with pytest.raises(services.StockShortage) as never:
        scan(keeper, warehouse, person, 1, item=ItemFactory(code="INK-2", unit="个").pk)

    assert exc.value.messages == [
        f"Not enough stock of 硒鼓（TONER-26A） in {warehouse}: 1盒 available, 2盒 requested."
    ]
    assert (never.value.available, never.value.requested) == (D("0"), D("1"))
    assert state(stocked, warehouse) == before
    assert list(TagSequence.objects.values_list("prefix", "last_value")) == sequences
    assert not in_transaction()


def test_a_scan_issue_failing_inside_its_statement_rolls_back_the_number_it_took(
    mariadb, keeper, warehouse, person, monkeypatch
):
    # given: 3 boxes, one scan posted; then the same key again with the read blind to it, so
    # the statement takes a number, then its document insert meets the unique key
    item = receive(keeper, warehouse, ItemFactory(unit="盒"), 3, "2.00")
    first = scan(keeper, warehouse, person, 1, key="scanner-9-0012", item=item.pk)
    sequences = list(TagSequence.objects.values_list("prefix", "last_value"))
    before = state(item, warehouse)
    read = statements.scan_read

    def blind(**kwargs):
        found = read(**kwargs)
        found.existing_id = None
        return found

    monkeypatch.setattr(statements, "scan_read", blind)

    # when
    again = scan(keeper, warehouse, person, 1, key="scanner-9-0012", item=item.pk)

    # then: the first document answered; the number taken inside the statement rolled back
    assert (again.posted, again.document.pk) == (False, first.document.pk)
    assert list(TagSequence.objects.values_list("prefix", "last_value")) == sequences
    assert state(item, warehouse) == before
    assert not in_transaction()
    assert scan(keeper, warehouse, person, 1, item=item.pk).posted  # the connection works


def test_scan_issues_take_value_as_the_python_valuation_does(mariadb, keeper, warehouse, person):
    # Receipts at odd costs and fractional quantities, then issues (some emptying the
    # balance): each issue's cost, amount, ledger entry and the stock row are what
    # documents._Balance.take computes from the balance before it.
    import random

    from inventory.models import Stock
    from inventory.services.documents import _Balance

    rng = random.Random(8)
    item = ItemFactory(unit="千克", quantity_decimals=3)
    for round_ in range(25):
        held = balance(item, warehouse)
        if round_ % 3 == 0 or held is None or held[0] == 0:
            quantity = D(rng.randint(1, 9000)) / 1000
            receive(keeper, warehouse, item, quantity, f"{rng.randint(1, 99999) / 100:.2f}")
            continue
        on_hand, value, average = held
        quantity = on_hand if rng.random() < 0.2 else min(on_hand, D(rng.randint(1, 3000)) / 1000)
        expected = _Balance(
            item=item,
            warehouse=warehouse,
            stock=Stock(),
            quantity=on_hand,
            value=value,
            average=average,
            start_quantity=on_hand,
        )
        taken = expected.take(quantity)

        result = scan(keeper, warehouse, person, quantity, item=item.pk)

        line = result.document.lines.get()
        assert (line.unit_cost, line.amount) == (average, taken)
        assert ledger(item, warehouse)[-1] == (
            -quantity,
            expected.quantity,
            average,
            -taken,
            expected.value,
        )
        assert balance(item, warehouse) == (expected.quantity, expected.value, average)
        # the objects answered carry what was written
        assert (result.document.lines.get().amount, line.unit_cost) == (taken, average)
    assert_ledger_is_a_chain(item, warehouse)
    assert LedgerEntry.objects.filter(item=item, quantity__lt=0).count() >= 10
