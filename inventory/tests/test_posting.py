"""Posting documents: moving average cost in exact figures, the ledger's running balance and
value, numbers per type and day, every document type, reversals and the signals."""

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assets.models import TagSequence
from assets.services import document_number
from inventory import services, signals
from inventory.models import Document, DocumentLine, LedgerEntry, Stock
from inventory.services import statements
from inventory.services.common import number_allocate

from .conftest import balance, ledger
from .factories import ItemFactory, WarehouseFactory


def today() -> str:
    return f"{timezone.localdate():%Y%m%d}"


def receive(actor, warehouse, item, quantity, unit_cost=None, **line):
    line = {"item": item, "quantity": quantity, **line}
    if unit_cost is not None:
        line["unit_cost"] = unit_cost
    result = services.document_create_and_post(
        actor=actor, type="receipt", warehouse=warehouse, lines=[line]
    )
    assert result.posted
    return result.document


def issue(actor, warehouse, item, quantity, person):
    result = services.document_create_and_post(
        actor=actor,
        type="issue",
        warehouse=warehouse,
        person=person,
        lines=[{"item": item, "quantity": quantity}],
    )
    assert result.posted
    return result.document


def test_moving_average_cost_in_exact_figures(keeper, warehouse, item, person):
    # given / when: receipts at different prices and issues in between
    receive(keeper, warehouse, item, 10, "12.50")
    assert balance(item, warehouse) == (D("10"), D("125.00"), D("12.5"))
    receive(keeper, warehouse, item, 5, "14.00")
    assert balance(item, warehouse) == (D("15"), D("195.00"), D("13"))
    issue(keeper, warehouse, item, 4, person)
    assert balance(item, warehouse) == (D("11"), D("143.00"), D("13"))
    receive(keeper, warehouse, item, 3, "10.33")  # 173.99 / 14 = 12.427857…
    assert balance(item, warehouse) == (D("14"), D("173.99"), D("12.4279"))
    issue(keeper, warehouse, item, 5, person)  # 5 × 12.4279 = 62.1395 → 62.14
    assert balance(item, warehouse) == (D("9"), D("111.85"), D("12.4279"))
    issue(keeper, warehouse, item, 9, person)  # the last units take what is left
    assert balance(item, warehouse) == (D("0"), D("0.00"), D("12.4279"))
    receive(keeper, warehouse, item, 2, "9.999")  # 19.998 → 20.00
    assert balance(item, warehouse) == (D("2"), D("20.00"), D("10"))

    # then: one ledger entry per movement with the running balance and value
    assert ledger(item, warehouse) == [
        (D("10"), D("10"), D("12.5"), D("125.00"), D("125.00")),
        (D("5"), D("15"), D("14"), D("70.00"), D("195.00")),
        (D("-4"), D("11"), D("13"), D("-52.00"), D("143.00")),
        (D("3"), D("14"), D("10.33"), D("30.99"), D("173.99")),
        (D("-5"), D("9"), D("12.4279"), D("-62.14"), D("111.85")),
        (D("-9"), D("0"), D("12.4279"), D("-111.85"), D("0.00")),
        (D("2"), D("2"), D("9.999"), D("20.00"), D("20.00")),
    ]


def test_posting_numbers_the_document_and_costs_its_lines(keeper, warehouse, item, person):
    # given: a draft receipt (no number yet) and stock
    draft = services.document_create(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        invoice_no="INV-001",
        lines=[{"barcode": item.barcode, "quantity": "3", "amount": "10.00"}],
    )
    assert (draft.status, draft.number) == ("draft", None)

    # when
    result = services.document_post(document=draft, actor=keeper)
    issued = issue(keeper, warehouse, item, 1, person)

    # then
    assert result.posted is True
    assert result.message == f"RK-{today()}-0001 posted."
    draft.refresh_from_db()
    assert (draft.status, draft.number, draft.posted_by) == ("posted", f"RK-{today()}-0001", keeper)
    assert draft.posted_at is not None
    line = draft.lines.get()
    assert (line.quantity, line.unit_cost, line.amount) == (D("3"), D("3.3333"), D("10.00"))
    out = issued.lines.get()
    assert (out.unit_cost, out.amount) == (D("3.3333"), D("3.33"))
    assert issued.number == f"CK-{today()}-0001"
    assert TagSequence.objects.get(prefix=f"RK-{today()}-").last_value == 1


def test_numbers_run_per_type_and_day(keeper, warehouse, item, person):
    yesterday = timezone.localdate() - timedelta(days=1)
    first = receive(keeper, warehouse, item, 1, "1")
    second = receive(keeper, warehouse, item, 1, "1")
    back = services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        date=yesterday,
        lines=[{"item": item, "quantity": 1, "unit_cost": 1}],
    ).document
    out = issue(keeper, warehouse, item, 1, person)

    assert [first.number, second.number, back.number, out.number] == [
        f"RK-{today()}-0001",
        f"RK-{today()}-0002",
        f"RK-{yesterday:%Y%m%d}-0001",
        f"CK-{today()}-0001",
    ]


def test_a_transfer_moves_quantity_and_exactly_the_value_taken(keeper, warehouse, item):
    # given: 3 boxes worth 10.00 (average 3.3333) in the first warehouse
    other = WarehouseFactory(keepers=[keeper])
    receive(keeper, warehouse, item, 3, amount="10.00")

    # when: one box, then the other two, go to the second warehouse
    for quantity in (1, 2):
        result = services.document_create_and_post(
            actor=keeper,
            type="transfer",
            warehouse=warehouse,
            to_warehouse=other,
            lines=[{"item": item, "quantity": quantity}],
        )
        assert result.document.number.startswith(f"DB-{today()}-")

    # then: the value moved is the value taken out, to the cent; the total is unchanged
    assert balance(item, warehouse) == (D("0"), D("0.00"), D("3.3333"))
    assert balance(item, other) == (D("3"), D("10.00"), D("3.3333"))
    assert ledger(item, warehouse)[1:] == [
        (D("-1"), D("2"), D("3.3333"), D("-3.33"), D("6.67")),
        (D("-2"), D("0"), D("3.3333"), D("-6.67"), D("0.00")),
    ]
    assert ledger(item, other) == [
        (D("1"), D("1"), D("3.3333"), D("3.33"), D("3.33")),
        (D("2"), D("3"), D("3.3333"), D("6.67"), D("10.00")),
    ]


def test_returns_gains_and_losses_without_a_cost_use_the_average(keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 4, "25.00")
    for type_, extra in (
        ("return", {"person": person}),
        ("stocktake_gain", {"reason": "盘点盘盈"}),
        ("stocktake_loss", {"reason": "盘点盘亏"}),
    ):
        result = services.document_create_and_post(
            actor=keeper,
            type=type_,
            warehouse=warehouse,
            lines=[{"item": item, "quantity": 2}],
            **extra,
        )
        assert result.posted

    assert balance(item, warehouse) == (D("6"), D("150.00"), D("25"))
    assert [n[:2] for n in Document.objects.order_by("id").values_list("number", flat=True)] == [
        "RK",
        "TK",
        "PY",
        "PK",
    ]
    assert [e[0] for e in ledger(item, warehouse)] == [D("4"), D("2"), D("2"), D("-2")]


def test_a_return_at_a_given_cost_recomputes_the_average(keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 2, "10.00")
    services.document_create_and_post(
        actor=keeper,
        type="return",
        warehouse=warehouse,
        person=person,
        lines=[{"item": item, "quantity": 1, "unit_cost": "7.00"}],
    )
    assert balance(item, warehouse) == (D("3"), D("27.00"), D("9"))


def test_an_adjustment_adds_and_removes_with_a_reason(keeper, warehouse, item):
    receive(keeper, warehouse, item, 5, "2.00")
    other = ItemFactory()

    result = services.document_create_and_post(
        actor=keeper,
        type="adjustment",
        warehouse=warehouse,
        reason="系统上线期初数据修正",
        lines=[
            {"item": item, "quantity": 2, "direction": "out"},
            {"item": other, "quantity": 3, "direction": "in", "unit_cost": "1.50"},
        ],
    )

    assert result.document.number == f"TZ-{today()}-0001"
    assert balance(item, warehouse) == (D("3"), D("6.00"), D("2"))
    assert balance(other, warehouse) == (D("3"), D("4.50"), D("1.5"))


def test_decimal_quantities_for_items_counted_by_the_metre(keeper, warehouse, person):
    cable = ItemFactory(by_metre=True)
    receive(keeper, warehouse, cable, "305", "1.20")  # one box of cable: 305 m
    issue(keeper, warehouse, cable, "12.5", person)

    assert balance(cable, warehouse) == (D("292.5"), D("351.00"), D("1.2"))


def test_reversing_a_receipt_takes_it_back_out(keeper, warehouse, item):
    receipt = receive(keeper, warehouse, item, 10, "5.00")

    reversal = services.document_reverse(document=receipt, actor=keeper, reason="供应商送错货")

    receipt.refresh_from_db()
    assert receipt.status == "reversed"
    assert (reversal.type, reversal.status, reversal.reverses) == ("receipt", "posted", receipt)
    assert reversal.number == f"RK-{today()}-0002"
    assert reversal.reason == "供应商送错货"
    assert balance(item, warehouse) == (D("0"), D("0.00"), D("5"))
    assert ledger(item, warehouse)[-1] == (D("-10"), D("0"), D("5"), D("-50.00"), D("0.00"))


def test_reversing_an_issue_puts_back_exactly_the_value_it_took(keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 3, amount="10.00")
    out = issue(keeper, warehouse, item, 1, person)
    assert balance(item, warehouse) == (D("2"), D("6.67"), D("3.3333"))

    services.document_reverse(document=out, actor=keeper, reason="领错了")

    assert balance(item, warehouse) == (D("3"), D("10.00"), D("3.3333"))


def test_reversing_a_transfer_sends_the_items_back(keeper, warehouse, item):
    other = WarehouseFactory(keepers=[keeper])
    receive(keeper, warehouse, item, 4, "2.50")
    moved = services.document_create_and_post(
        actor=keeper,
        type="transfer",
        warehouse=warehouse,
        to_warehouse=other,
        lines=[{"item": item, "quantity": 4}],
    ).document

    reversal = services.document_reverse(document=moved, actor=keeper, reason="调错仓库")

    assert (reversal.warehouse, reversal.to_warehouse) == (other, warehouse)
    assert balance(item, warehouse) == (D("4"), D("10.00"), D("2.5"))
    assert balance(item, other) == (D("0"), D("0.00"), D("2.5"))


def test_a_reversal_that_would_go_below_zero_is_refused_and_changes_nothing(
    keeper, warehouse, item, person
):
    receipt = receive(keeper, warehouse, item, 10, "5.00")
    issue(keeper, warehouse, item, 7, person)
    before = (balance(item, warehouse), LedgerEntry.objects.count(), Document.objects.count())

    with pytest.raises(services.StockShortage) as exc:
        services.document_reverse(document=receipt, actor=keeper, reason="退货")

    assert exc.value.messages == [
        f"Not enough stock of 硒鼓（TONER-26A） in {warehouse}: 3盒 available, 10盒 requested."
    ]
    receipt.refresh_from_db()
    assert receipt.status == "posted"
    assert (balance(item, warehouse), LedgerEntry.objects.count(), Document.objects.count()) == (
        before
    )


def test_a_document_is_reversed_once_and_a_reversal_never(keeper, warehouse, item):
    receipt = receive(keeper, warehouse, item, 10, "5.00")
    reversal = services.document_reverse(document=receipt, actor=keeper, reason="错")
    draft = services.document_create(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": 1, "unit_cost": 1}],
    )
    count = Document.objects.count()

    with pytest.raises(ValidationError) as twice:
        services.document_reverse(document=receipt, actor=keeper, reason="again")
    with pytest.raises(ValidationError) as of_reversal:
        services.document_reverse(document=reversal, actor=keeper, reason="again")
    with pytest.raises(ValidationError) as of_draft:
        services.document_reverse(document=draft, actor=keeper, reason="again")
    with pytest.raises(ValidationError) as no_reason:
        services.document_reverse(document=receipt, actor=keeper, reason=" ")

    assert twice.value.messages == [f"{receipt.number} has already been reversed."]
    assert of_reversal.value.messages == [
        f"{reversal.number} reverses another document and cannot be reversed itself."
    ]
    assert of_draft.value.messages == ["Only posted documents can be reversed."]
    assert no_reason.value.messages == ["Give the reason for the reversal."]
    assert Document.objects.count() == count


def test_stock_falling_below_safety_stock_is_announced_once_after_commit(
    keeper, warehouse, person, django_capture_on_commit_callbacks
):
    toner = ItemFactory(safety_stock=D("5"))
    heard = []

    def receiver(sender, **kwargs):
        heard.append(kwargs)

    signals.stock_below_safety.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            receive(keeper, warehouse, toner, 10, "1")
            issue(keeper, warehouse, toner, 4, person)  # 6: still above
        assert heard == []
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            issue(keeper, warehouse, toner, 2, person)  # 4: below
            issue(keeper, warehouse, toner, 1, person)  # 3: still below, no news
    finally:
        signals.stock_below_safety.disconnect(receiver)

    stock = Stock.objects.get(item=toner, warehouse=warehouse)
    assert heard == [
        {
            "signal": signals.stock_below_safety,
            "stock_id": stock.pk,
            "item_id": toner.pk,
            "warehouse_id": warehouse.pk,
        }
    ]
    assert len(callbacks) == 3  # two "document posted" and one "below safety stock"


def test_document_posted_is_sent_after_commit_only(
    keeper, warehouse, item, django_capture_on_commit_callbacks
):
    heard = []

    def receiver(sender, document_id, **kwargs):
        heard.append(document_id)

    signals.document_posted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            document = receive(keeper, warehouse, item, 1, "1")
        assert heard == []  # not before commit
        for callback in callbacks:
            callback()
    finally:
        signals.document_posted.disconnect(receiver)
    assert heard == [document.pk]


def test_lines_keep_the_costs_posting_gave_them(keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 4, "2.25")
    out = issue(keeper, warehouse, item, 3, person)
    assert list(DocumentLine.objects.filter(document=out).values_list("unit_cost", "amount")) == [
        (D("2.25"), D("6.75"))
    ]


# --- The hot path: what a scanner's one-line issue costs the database ------------------------


def _statements(queries) -> list[str]:
    """The statements a block ran, as "VERB table" (savepoints of the test's transaction
    left out), with " FOR UPDATE" on locking reads; the writes of a compound statement
    (``BEGIN NOT ATOMIC``, MariaDB) one by one, its variables and own reads left out."""
    shown = []
    for query in queries:
        sql = query["sql"].replace("`", "").replace('"', "")
        parts = [sql]
        if sql.startswith("BEGIN NOT ATOMIC"):
            parts = [p.strip() for p in sql.split(";")]
            parts = [p for p in parts if p.split(None, 1)[0].upper() in ("INSERT", "UPDATE")]
        for part in parts:
            verb = part.split(None, 1)[0].upper()
            if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
                continue
            table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", part)[1]
            shown.append(f"{verb} {table}" + (" FOR UPDATE" if "FOR UPDATE" in part else ""))
    return shown


def _round_trips(queries) -> int:
    return sum(
        q["sql"].split(None, 1)[0].upper() not in ("SAVEPOINT", "RELEASE", "ROLLBACK")
        for q in queries
    )


def test_a_scanned_issue_is_one_locked_read_and_five_writes(keeper, warehouse, item, person):
    # given: stock, and the scan's warehouse, recipient and item already resolved
    receive(keeper, warehouse, item, 5, "2.00")

    # when
    with CaptureQueriesContext(connection) as queries:
        result = services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            idempotency_key="scanner-1-0001",
            lines=[{"item": item, "quantity": 1}],
        )

    # then: the keeper check, then (under the stock row's lock) the number, the posted
    # document, its line, the ledger entry and the balance: no draft written and updated
    assert result.posted
    assert _statements(queries) == [
        "SELECT inventory_warehouse_keepers",
        "SELECT inventory_stock FOR UPDATE",
        "INSERT assets_tagsequence",
        "INSERT inventory_document",
        "INSERT inventory_documentline",
        "INSERT inventory_ledgerentry",
        "UPDATE inventory_stock",
    ]
    # MariaDB: the five writes go as one compound statement, sent once the row is locked
    assert _round_trips(queries) == (3 if connection.mysql_is_mariadb else 7)
    document = Document.objects.get(idempotency_key="scanner-1-0001")
    assert (document.status, document.number, document.posted_by) == (
        "posted",
        f"CK-{today()}-0001",
        keeper,
    )
    assert (document.operator, document.person, document.warehouse) == (keeper, person, warehouse)
    assert document.posted_at == result.document.posted_at
    line = document.lines.get()
    assert (line.item, line.quantity, line.unit_cost, line.amount) == (
        item,
        D("1"),
        D("2"),
        D("2.00"),
    )
    assert ledger(item, warehouse)[-1] == (D("-1"), D("4"), D("2"), D("-2.00"), D("8.00"))
    assert LedgerEntry.objects.filter(document=document, line=line).count() == 1
    assert balance(item, warehouse) == (D("4"), D("8.00"), D("2"))


def test_a_refused_issue_is_one_locked_read_and_writes_nothing(keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 1, "2.00")
    before = (Document.objects.count(), LedgerEntry.objects.count(), balance(item, warehouse))
    sequence = TagSequence.objects.filter(prefix=f"CK-{today()}-").count()

    with CaptureQueriesContext(connection) as queries, pytest.raises(services.StockShortage):
        services.document_create_and_post(
            actor=keeper,
            type="issue",
            warehouse=warehouse,
            person=person,
            lines=[{"item": item, "quantity": 2}],
        )

    assert _statements(queries) == [
        "SELECT inventory_warehouse_keepers",
        "SELECT inventory_stock FOR UPDATE",
    ]
    after = (Document.objects.count(), LedgerEntry.objects.count(), balance(item, warehouse))
    assert after == before
    assert TagSequence.objects.filter(prefix=f"CK-{today()}-").count() == sequence


def test_a_request_replayed_after_the_stock_ran_out_answers_the_first_result(
    keeper, warehouse, item, person
):
    # given: a scan that took the last unit
    receive(keeper, warehouse, item, 1, "2.00")
    scan = {
        "actor": keeper,
        "type": "issue",
        "warehouse": warehouse,
        "person": person,
        "idempotency_key": "scanner-2-0042",
        "lines": [{"item": item, "quantity": 1}],
    }
    first = services.document_create_and_post(**scan)
    before = (Document.objects.count(), LedgerEntry.objects.count(), balance(item, warehouse))

    # when: the scanner sends it again (no answer reached it)
    again = services.document_create_and_post(**scan)

    # then: the first document, not a refusal, and nothing changed
    assert (first.posted, again.posted) == (True, False)
    assert again.document.pk == first.document.pk
    assert again.message == f"{first.document.number} is already posted; nothing was changed."
    assert (Document.objects.count(), LedgerEntry.objects.count()) == before[:2]
    assert balance(item, warehouse) == before[2] == (D("0"), D("0.00"), D("2"))


def test_numbers_continue_the_series_that_document_number_advances(db):
    day = timezone.localdate() - timedelta(days=3)
    with transaction.atomic():
        first = number_allocate("CK", day=day)  # inserts the day's sequence row
        second = number_allocate("CK", day=day)  # advances it
        third = document_number("CK", today=day)  # the assets services' way, same row
        fourth = number_allocate("CK", day=day)

    assert [first, second, third, fourth] == [f"CK-{day:%Y%m%d}-{n:04d}" for n in (1, 2, 3, 4)]
    assert TagSequence.objects.get(prefix=f"CK-{day:%Y%m%d}-").last_value == 4


def test_a_posting_rolled_back_gives_its_number_back(keeper, warehouse, item):
    with pytest.raises(RuntimeError), transaction.atomic():
        receive(keeper, warehouse, item, 1, "1")
        raise RuntimeError  # e.g. the caller's transaction fails after posting

    assert receive(keeper, warehouse, item, 1, "1").number == f"RK-{today()}-0001"


def test_the_stock_row_reads_as_the_orm_reads_it(keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 3, "10.33")
    issue(keeper, warehouse, item, 1, person)
    orm = Stock.objects.get(item=item, warehouse=warehouse)

    with transaction.atomic():
        locked = statements.stock_lock(item.pk, warehouse.pk)
        missing = statements.stock_lock(item.pk + 1000, warehouse.pk)

    assert (locked.pk, locked.item_id, locked.warehouse_id) == (orm.pk, item.pk, warehouse.pk)
    assert (locked.quantity, locked.value, locked.average_cost) == (
        orm.quantity,
        orm.value,
        orm.average_cost,
    )
    assert all(isinstance(v, D) for v in (locked.quantity, locked.value, locked.average_cost))
    assert missing is None
