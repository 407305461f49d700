"""Consumable stocktakes: count sheets frozen at start, counts entered or scanned, movements
during the count accounted for, one 盘盈 and one 盘亏 document posted at closing, refusals
(bad quantities, a second close, counting after close, strangers), and the pages."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from inventory.models import (
    CountLine,
    CountSheet,
    Document,
    DocumentType,
    LedgerEntry,
    Stock,
    Stocktake,
    StocktakeScan,
)
from inventory.services import count_sheets
from inventory.services import stocktakes as stocktake_services
from inventory.services.stocktakes import ScanRefused

from .conftest import balance
from .factories import DocumentFactory, ItemFactory, WarehouseFactory

D = Decimal


@pytest.fixture
def items(warehouse):
    """Three items in stock: 10 toner at 5.00, 4 cables at 2.50, 2 mice at 30.00; a fourth
    never stocked here."""
    toner = ItemFactory(code="TONER", barcode="6900000000011", name="硒鼓")
    cable = ItemFactory(code="CABLE", barcode="6900000000028", name="网线")
    mouse = ItemFactory(code="MOUSE", barcode="6900000000035", name="鼠标")
    pen = ItemFactory(code="PEN", barcode="6900000000042", name="笔")
    DocumentFactory(
        warehouse=warehouse,
        receipt=True,
        lines=[(toner, 10, "5.00"), (cable, 4, "2.50"), (mouse, 2, "30.00")],
        posted=True,
    )
    return {"toner": toner, "cable": cable, "mouse": mouse, "pen": pen}


@pytest.fixture
def counting(keeper, warehouse, items):
    stocktake = stocktake_services.stocktake_create(
        actor=keeper,
        name="耗材盘点",
        kind=Stocktake.Kind.CONSUMABLE,
        warehouses=[warehouse],
        counters=[keeper],
    )
    return stocktake_services.stocktake_start(actor=keeper, stocktake=stocktake)


def sheet_of(stocktake):
    return CountSheet.objects.get(stocktake=stocktake)


def line_of(stocktake, item):
    return CountLine.objects.get(sheet__stocktake=stocktake, item=item)


def count(stocktake, item, quantity, actor):
    return count_sheets.count_line_set(
        line=line_of(stocktake, item), actor=actor, quantity=quantity
    )


def issue(warehouse, item, quantity):
    DocumentFactory(warehouse=warehouse, issue=True, lines=[(item, quantity)], posted=True)


def receive(warehouse, item, quantity, cost):
    DocumentFactory(warehouse=warehouse, receipt=True, lines=[(item, quantity, cost)], posted=True)


# --- Freeze -----------------------------------------------------------------------------------


def test_starting_freezes_the_book_quantities_and_the_ledger_point(counting, warehouse, items):
    sheet = sheet_of(counting)
    assert sheet.status == CountSheet.Status.COUNTING
    assert sheet.frozen_ledger_id == LedgerEntry.objects.latest("id").pk
    rows = {
        line.item.code: (line.book_quantity, line.unit_cost, line.counted_quantity)
        for line in CountLine.objects.filter(sheet=sheet).select_related("item")
    }
    assert rows == {
        "TONER": (D("10"), D("5.0000"), None),
        "CABLE": (D("4"), D("2.5000"), None),
        "MOUSE": (D("2"), D("30.0000"), None),
    }
    assert counting.expected_count == 3


# --- Counting and posting -----------------------------------------------------------------------


def test_movements_during_the_count_are_accounted_for_and_one_document_per_sign_is_posted(
    counting, keeper, warehouse, items
):
    toner, cable, mouse = items["toner"], items["cable"], items["mouse"]
    # given: 2 toner issued after the freeze, before the shelf was counted (8 on the shelf)
    issue(warehouse, toner, 2)
    count(counting, toner, "8", keeper)
    # and: 3 cables counted (1 lost), then 5 received after the count (on neither)
    count(counting, cable, "3", keeper)
    receive(warehouse, cable, 5, "2.50")
    # and: 5 mice counted where the book said 2 (3 found)
    count(counting, mouse, "5", keeper)

    # when
    stocktake_services.stocktake_close(actor=keeper, stocktake=counting)

    # then: toner has no variance, cable −1, mouse +3 at the average cost at freeze
    sheet = sheet_of(counting)
    lines = {
        line.item.code: (line.movements, line.variance, line.variance_value)
        for line in CountLine.objects.filter(sheet=sheet).select_related("item")
    }
    assert lines == {
        "TONER": (D("-2"), D("0"), D("0")),
        "CABLE": (D("0"), D("-1"), D("-2.50")),
        "MOUSE": (D("0"), D("3"), D("90.00")),
    }
    assert sheet.status == CountSheet.Status.POSTED
    gain, loss = sheet.gain_document, sheet.loss_document
    assert (gain.type, gain.status, gain.number[:2]) == (
        DocumentType.STOCKTAKE_GAIN,
        "posted",
        "PY",
    )
    assert (loss.type, loss.status, loss.number[:2]) == (
        DocumentType.STOCKTAKE_LOSS,
        "posted",
        "PK",
    )
    assert list(gain.lines.values_list("item__code", "quantity", "amount")) == [
        ("MOUSE", D("3"), D("90.00"))
    ]
    assert list(loss.lines.values_list("item__code", "quantity", "amount")) == [
        ("CABLE", D("1"), D("2.50"))
    ]
    # and the book now holds what is on the shelves plus what moved after the count
    assert balance(toner, warehouse)[0] == D("8")
    assert balance(cable, warehouse)[0] == D("8")  # 3 counted + 5 received after
    assert balance(mouse, warehouse)[0] == D("5")
    assert Stocktake.objects.get(pk=counting.pk).status == Stocktake.Status.CLOSED


def test_no_variance_posts_no_document(counting, keeper, items):
    for key, quantity in (("toner", "10"), ("cable", "4"), ("mouse", "2")):
        count(counting, items[key], quantity, keeper)
    documents = Document.objects.count()

    stocktake_services.stocktake_close(actor=keeper, stocktake=counting)

    sheet = sheet_of(counting)
    assert sheet.status == CountSheet.Status.POSTED
    assert (sheet.gain_document, sheet.loss_document) == (None, None)
    assert Document.objects.count() == documents


def test_a_second_close_is_refused_and_posts_nothing(counting, keeper, items):
    for key, quantity in (("toner", "9"), ("cable", "4"), ("mouse", "2")):
        count(counting, items[key], quantity, keeper)
    stocktake_services.stocktake_close(actor=keeper, stocktake=counting)
    entries, documents = LedgerEntry.objects.count(), Document.objects.count()

    with pytest.raises(ValidationError):
        stocktake_services.stocktake_close(actor=keeper, stocktake=counting)
    with pytest.raises(ValidationError):
        count_sheets.count_sheets_post(stocktake=counting, actor=keeper)

    assert (LedgerEntry.objects.count(), Document.objects.count()) == (entries, documents)


def test_uncounted_lines_block_closing_and_nothing_is_posted(counting, keeper, items):
    count(counting, items["toner"], "9", keeper)
    documents = Document.objects.count()

    with pytest.raises(ValidationError) as exc:
        stocktake_services.stocktake_close(actor=keeper, stocktake=counting)

    assert "2 item(s)" in exc.value.messages[0]
    assert Document.objects.count() == documents
    assert Stocktake.objects.get(pk=counting.pk).status == Stocktake.Status.COUNTING
    assert sheet_of(counting).status == CountSheet.Status.COUNTING


def test_an_uncounted_line_with_nothing_expected_counts_as_zero(counting, keeper, warehouse, items):
    # the mice all left after the freeze: nothing expected on the shelf
    issue(warehouse, items["mouse"], 2)
    count(counting, items["toner"], "10", keeper)
    count(counting, items["cable"], "4", keeper)

    stocktake_services.stocktake_close(actor=keeper, stocktake=counting)

    line = line_of(counting, items["mouse"])
    assert (line.counted_quantity, line.movements, line.variance) == (D("0"), D("-2"), D("0"))


@pytest.mark.parametrize(
    ("entered", "message"),
    [
        ("-1", "The counted quantity cannot be negative."),
        ("abc", "Enter a number."),
        ("", "Enter the quantity counted."),
        ("1.5", "is counted in whole units"),
        ("1e20", "The quantity is too large."),
        ("NaN", "Enter a number."),
    ],
)
def test_bad_quantities_are_refused_and_change_nothing(counting, keeper, items, entered, message):
    count(counting, items["toner"], "7", keeper)

    with pytest.raises(ValidationError) as exc:
        count(counting, items["toner"], entered, keeper)

    assert message in exc.value.messages[0]
    assert line_of(counting, items["toner"]).counted_quantity == D("7")


def test_zero_is_a_count(counting, keeper, items):
    line = count(counting, items["toner"], "0", keeper)
    assert line.counted_quantity == D("0")


def test_counting_after_close_is_refused(counting, keeper, items):
    for key, quantity in (("toner", "10"), ("cable", "4"), ("mouse", "2")):
        count(counting, items[key], quantity, keeper)
    stocktake_services.stocktake_close(actor=keeper, stocktake=counting)

    with pytest.raises(ValidationError):
        count(counting, items["toner"], "3", keeper)
    with pytest.raises(ScanRefused):
        count_sheets.count_sheet_scan(
            sheet=sheet_of(counting), actor=keeper, code="6900000000011", scan_id=uuid.uuid4()
        )

    assert line_of(counting, items["toner"]).counted_quantity == D("10")


def test_a_user_who_is_no_counter_may_not_count(counting, make_user, items):
    stranger = make_user("clerk")  # may count asset stocktakes, not this one
    with pytest.raises(PermissionDenied):
        count(counting, items["toner"], "3", stranger)
    assert line_of(counting, items["toner"]).counted_quantity is None


def test_a_keeper_of_another_warehouse_may_not_count(counting, make_user, items):
    other_keeper = make_user("keeper")
    WarehouseFactory(keepers=[other_keeper])
    with pytest.raises(PermissionDenied):
        count(counting, items["toner"], "3", other_keeper)
    assert line_of(counting, items["toner"]).counted_quantity is None


def test_a_counter_assigned_to_the_warehouse_may_count(counting, keeper, make_user, items):
    helper = make_user("keeper")  # keeps nothing, counts this warehouse
    sheet = sheet_of(counting)
    stocktake_services.stocktake_update(
        actor=keeper,
        stocktake=counting,
        name=counting.name,
        counters=[keeper, {"user": helper, "location": sheet.warehouse.location}],
    )
    assert count(counting, items["toner"], "3", helper).counted_quantity == D("3")


# --- Scanning -----------------------------------------------------------------------------------


def test_a_scan_counts_one_more_and_a_retry_counts_once(counting, keeper, items):
    sheet = sheet_of(counting)
    first = uuid.uuid4()

    count_sheets.count_sheet_scan(sheet=sheet, actor=keeper, code="6900000000011", scan_id=first)
    replay = count_sheets.count_sheet_scan(
        sheet=sheet, actor=keeper, code="6900000000011", scan_id=first
    )
    second = count_sheets.count_sheet_scan(
        sheet=sheet, actor=keeper, code="TONER", scan_id=uuid.uuid4()
    )

    assert replay.replay is True
    assert second.line.counted_quantity == D("2")
    assert line_of(counting, items["toner"]).counted_quantity == D("2")
    assert StocktakeScan.objects.filter(stocktake=counting, result="counted").count() == 2


def test_scanning_an_item_off_the_sheet_adds_it_with_its_book_at_freeze(counting, keeper, items):
    sheet = sheet_of(counting)

    result = count_sheets.count_sheet_scan(
        sheet=sheet, actor=keeper, code="6900000000042", scan_id=uuid.uuid4()
    )

    assert result.added is True
    line = line_of(counting, items["pen"])
    assert (line.book_quantity, line.counted_quantity) == (D("0"), D("1"))


@pytest.mark.parametrize("code", ["NO-SUCH-CODE", "", "abc\x07", "x" * 10_000])
def test_bad_scans_are_refused_and_record_nothing(counting, keeper, code):
    with pytest.raises(ScanRefused):
        count_sheets.count_sheet_scan(
            sheet=sheet_of(counting), actor=keeper, code=code, scan_id=uuid.uuid4()
        )
    assert not StocktakeScan.objects.filter(stocktake=counting).exists()
    assert not CountLine.objects.filter(
        sheet__stocktake=counting, counted_quantity__isnull=False
    ).exists()


def test_a_scan_without_a_valid_id_is_refused(counting, keeper):
    with pytest.raises(ScanRefused):
        count_sheets.count_sheet_scan(
            sheet=sheet_of(counting), actor=keeper, code="TONER", scan_id="not-a-uuid"
        )


# --- Pages ----------------------------------------------------------------------------------


def test_the_sheet_list_shows_progress(counting, keeper, client_as, items):
    count(counting, items["toner"], "10", keeper)
    client = client_as(user=keeper)

    response = client.get(reverse("inventory:stocktake_sheets", args=[counting.pk]))

    assert response.status_code == 200
    assert response.templates[0].name == "inventory/countsheet_list.html"
    row = response.context["sheets"][0]
    assert (row.total, row.counted) == (3, 1)


def test_the_sheet_list_fragment_for_htmx(counting, keeper, client_as):
    client = client_as(user=keeper)
    response = client.get(
        reverse("inventory:stocktake_sheets", args=[counting.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="sheet-table">')


@pytest.mark.parametrize("role", ["employee", "dept_head"])
def test_other_roles_do_not_see_count_sheets(counting, client_as, role):
    client = client_as(role)
    sheet = sheet_of(counting)
    assert client.get(reverse("inventory:stocktake_sheets", args=[counting.pk])).status_code == 404
    url = reverse("inventory:countsheet_detail", args=[counting.pk, sheet.pk])
    assert client.get(url).status_code == 404


def test_an_asset_stocktake_has_no_count_sheets(client_as, make_user, db):
    clerk = make_user("clerk")
    stocktake = stocktake_services.stocktake_create(actor=clerk, name="资产", counters=[clerk])
    response = client_as(user=clerk).get(reverse("inventory:stocktake_sheets", args=[stocktake.pk]))
    assert response.status_code == 404


def test_the_sheet_page_offers_inline_entry_to_its_counters(counting, keeper, client_as):
    sheet = sheet_of(counting)
    response = client_as(user=keeper).get(
        reverse("inventory:countsheet_detail", args=[counting.pk, sheet.pk])
    )
    assert response.status_code == 200
    assert response.context["may_count"] is True
    assert response.content.decode().count('data-testid="counted-input"') == 3


def test_auditors_read_the_sheet_and_may_not_count(counting, client_as, items):
    client = client_as("auditor")
    sheet = sheet_of(counting)
    line = line_of(counting, items["toner"])

    page = client.get(reverse("inventory:countsheet_detail", args=[counting.pk, sheet.pk]))
    post = client.post(
        reverse("inventory:countline_set", args=[counting.pk, sheet.pk, line.pk]),
        {"counted": "3"},
    )
    scan = client.post(
        reverse("inventory:countsheet_scan", args=[counting.pk, sheet.pk]),
        {"code": "TONER", "scan_id": str(uuid.uuid4())},
    )

    assert page.status_code == 200
    assert page.context["may_count"] is False
    assert 'data-testid="counted-input"' not in page.content.decode()
    assert (post.status_code, scan.status_code) == (403, 403)
    assert line_of(counting, items["toner"]).counted_quantity is None


def test_inline_entry_with_htmx_answers_the_row(counting, keeper, client_as, items):
    sheet = sheet_of(counting)
    line = line_of(counting, items["toner"])
    url = reverse("inventory:countline_set", args=[counting.pk, sheet.pk, line.pk])
    client = client_as(user=keeper)

    good = client.post(url, {"counted": "9"}, HTTP_HX_REQUEST="true")
    bad = client.post(url, {"counted": "-3"}, HTTP_HX_REQUEST="true")

    assert good.status_code == 200
    assert good["HX-Trigger"] == "countLineSaved"
    assert good.content.decode().lstrip().startswith(f'<tr id="countline-{line.pk}"')
    assert bad.status_code == 200
    assert 'data-testid="counted-error"' in bad.content.decode()
    assert line_of(counting, items["toner"]).counted_quantity == D("9")


def test_inline_entry_without_htmx_redirects_to_the_sheet(counting, keeper, client_as, items):
    sheet = sheet_of(counting)
    line = line_of(counting, items["toner"])
    response = client_as(user=keeper).post(
        reverse("inventory:countline_set", args=[counting.pk, sheet.pk, line.pk]), {"counted": "4"}
    )
    assert response.status_code == 302
    assert response.url == reverse("inventory:countsheet_detail", args=[counting.pk, sheet.pk])
    assert line_of(counting, items["toner"]).counted_quantity == D("4")


def test_the_scan_box_counts_and_updates_the_row(counting, keeper, client_as, items):
    sheet = sheet_of(counting)
    url = reverse("inventory:countsheet_scan", args=[counting.pk, sheet.pk])
    scan_id = str(uuid.uuid4())
    client = client_as(user=keeper)

    first = client.post(url, {"code": "6900000000011", "scan_id": scan_id}, HTTP_HX_REQUEST="true")
    again = client.post(url, {"code": "6900000000011", "scan_id": scan_id}, HTTP_HX_REQUEST="true")
    unknown = client.post(
        url, {"code": "NOPE", "scan_id": str(uuid.uuid4())}, HTTP_HX_REQUEST="true"
    )

    body = first.content.decode()
    assert first.status_code == 200
    assert 'id="scan-box"' in body
    assert f'id="countline-{line_of(counting, items["toner"]).pk}"' in body
    assert f'value="{scan_id}"' not in body  # a fresh id for the next scan
    assert again.status_code == 200
    assert "alert-danger" in unknown.content.decode() and "NOPE" in unknown.content.decode()
    assert line_of(counting, items["toner"]).counted_quantity == D("1")


def test_the_posted_sheet_shows_variances_and_documents(counting, keeper, client_as, items):
    for key, quantity in (("toner", "9"), ("cable", "4"), ("mouse", "3")):
        count(counting, items[key], quantity, keeper)
    stocktake_services.stocktake_close(actor=keeper, stocktake=counting)
    sheet = sheet_of(counting)

    response = client_as("auditor").get(
        reverse("inventory:countsheet_detail", args=[counting.pk, sheet.pk])
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert [d.pk for d in response.context["documents"]] == [
        sheet.gain_document_id,
        sheet.loss_document_id,
    ]
    assert sheet.gain_document.number in body and sheet.loss_document.number in body
    assert response.context["totals"]["value"] == D("25.00")  # +30.00 − 5.00


def test_the_sheet_page_costs_a_constant_number_of_queries(
    keeper, warehouse, client_as, django_assert_max_num_queries
):
    def make(n):
        items = [ItemFactory() for _ in range(n)]
        DocumentFactory(
            warehouse=warehouse, receipt=True, lines=[(i, 1, "1.00") for i in items], posted=True
        )
        stocktake = stocktake_services.stocktake_create(
            actor=keeper,
            name=f"盘点{n}",
            kind=Stocktake.Kind.CONSUMABLE,
            warehouses=[warehouse],
            counters=[keeper],
        )
        return stocktake_services.stocktake_start(actor=keeper, stocktake=stocktake)

    client = client_as(user=keeper)
    small, big = make(3), make(40)
    for stocktake in (small, big):
        sheet = sheet_of(stocktake)
        with django_assert_max_num_queries(16):
            response = client.get(
                reverse("inventory:countsheet_detail", args=[stocktake.pk, sheet.pk])
            )
        assert response.status_code == 200
    assert Stock.objects.filter(warehouse=warehouse).count() >= 40


def test_the_sheet_lines_fragment_for_htmx_with_filters(counting, keeper, client_as):
    sheet = sheet_of(counting)
    url = reverse("inventory:countsheet_detail", args=[counting.pk, sheet.pk])
    response = client_as(user=keeper).get(url, {"q": "CAB", "todo": "1"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="sheet-lines">')
    assert body.count('data-testid="count-line"') == 1 and 'data-item="CABLE"' in body
    assert response["HX-Push-Url"] == f"{url}?q=CAB&todo=1"


def test_the_sheet_list_costs_a_constant_number_of_queries(
    keeper, client_as, django_assert_max_num_queries
):
    warehouses = [WarehouseFactory(keepers=[keeper]) for _ in range(4)]
    for warehouse in warehouses:
        item = ItemFactory()
        DocumentFactory(warehouse=warehouse, receipt=True, lines=[(item, 2, "1.00")], posted=True)

    def make(chosen):
        stocktake = stocktake_services.stocktake_create(
            actor=keeper,
            name="多仓盘点",
            kind=Stocktake.Kind.CONSUMABLE,
            warehouses=chosen,
            counters=[keeper],
        )
        return stocktake_services.stocktake_start(actor=keeper, stocktake=stocktake)

    client = client_as(user=keeper)
    for stocktake in (make(warehouses[:1]), make(warehouses)):
        with django_assert_max_num_queries(8):
            response = client.get(reverse("inventory:stocktake_sheets", args=[stocktake.pk]))
        assert response.status_code == 200
    assert len(response.context["sheets"]) == 4
