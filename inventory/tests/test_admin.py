"""The inventory admin: pages open for administrators, clerks only read, query counts stay
bounded, drafts are saved and posted through the services, posted documents are read-only,
and reference data exports."""

import csv
import io
import uuid
from decimal import Decimal as D

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assets.tests.factories import AssetFactory, LocationFactory, PersonFactory
from inventory.models import (
    Document,
    DocumentLine,
    Item,
    ItemCategory,
    LedgerEntry,
    Requisition,
    Stock,
    Stocktake,
    StocktakeScan,
    Warehouse,
)
from inventory.services import stocktakes

from .factories import (
    DocumentFactory,
    ItemCategoryFactory,
    ItemFactory,
    RequisitionFactory,
    WarehouseFactory,
)

MODELS = sorted(
    (m for m in admin.site._registry if m._meta.app_label == "inventory"),
    key=lambda m: m._meta.model_name,
)
READ_ONLY = {Stock, LedgerEntry, Requisition, Stocktake, StocktakeScan}


def admin_url(model, page, *args):
    return reverse(f"admin:inventory_{model._meta.model_name}_{page}", args=args)


@pytest.fixture
def admin_client(client, make_user):
    user = make_user("admin")
    client.force_login(user)
    client.user = user
    client.cookies["django_language"] = "en"
    return client


def stocktake_with_a_scan(counter):
    """A counting stocktake of one room, one scan recorded."""
    room = LocationFactory()
    asset = AssetFactory(location=room)
    stocktake = stocktakes.stocktake_create(
        actor=None, name="盘点", locations=[room], counters=[counter]
    )
    stocktakes.stocktake_start(actor=None, stocktake=stocktake)
    stocktakes.stocktake_scan(
        actor=counter,
        stocktake_id=stocktake.pk,
        scan_id=uuid.uuid4(),
        code=asset.tag,
        location_id=room.pk,
    )
    return stocktake


@pytest.fixture
def data(keeper, warehouse, item):
    """One of everything: a category, a posted receipt and issue, a draft, a requisition."""
    ItemCategoryFactory()
    person = PersonFactory()
    DocumentFactory(warehouse=warehouse, lines=[(item, 10, "3.00")], posted=True)
    DocumentFactory(issue=True, warehouse=warehouse, person=person, lines=[(item, 2)], posted=True)
    draft = DocumentFactory(warehouse=warehouse, lines=[(item, 1, "3.00")])
    RequisitionFactory(requester=person, lines=[(item, 1)])
    stocktake_with_a_scan(keeper)
    return draft


def test_every_inventory_model_is_registered():
    assert set(MODELS) == {
        Document,
        Item,
        ItemCategory,
        LedgerEntry,
        Requisition,
        Stock,
        Stocktake,
        StocktakeScan,
        Warehouse,
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_every_page_opens_for_an_administrator(admin_client, data, model):
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    obj = model.objects.order_by("pk").first()
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    add = admin_client.get(admin_url(model, "add"))
    assert add.status_code == (403 if model in READ_ONLY else 200)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_changelist_queries_do_not_grow_with_rows(admin_client, keeper, warehouse, model):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(admin_url(model, "changelist")).status_code == 200
        return len(queries)

    def add_rows():
        item = ItemFactory()
        ItemCategoryFactory()
        WarehouseFactory(keepers=[keeper])
        person = PersonFactory()
        DocumentFactory(warehouse=warehouse, lines=[(item, 5, "1.00")], posted=True)
        DocumentFactory(
            issue=True, warehouse=warehouse, person=person, lines=[(item, 1)], posted=True
        )
        RequisitionFactory(requester=person, lines=[(item, 1)])
        stocktake_with_a_scan(keeper)

    add_rows()
    count()
    few = count()
    for _ in range(4):
        add_rows()
    assert count() == few


def test_clerks_read_but_do_not_write(client, make_user, data):
    client.force_login(make_user("clerk"))
    assert client.get(admin_url(Item, "changelist")).status_code == 200
    assert client.get(admin_url(Document, "changelist")).status_code == 200
    assert client.get(admin_url(Item, "add")).status_code == 403
    assert client.get(admin_url(Document, "add")).status_code == 403


def line_form(prefix="lines", lines=(), initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(lines)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for n, line in enumerate(lines):
        for key, value in line.items():
            data[f"{prefix}-{n}-{key}"] = value
    return data


def test_a_draft_is_created_through_the_service_and_posted_by_the_action(
    admin_client, warehouse, item
):
    # when: a receipt is entered in the admin
    response = admin_client.post(
        admin_url(Document, "add"),
        {
            "type": "receipt",
            "date": timezone.localdate().isoformat(),
            "warehouse": warehouse.pk,
            "invoice_no": "FP-0001",
            "reason": "",
            **line_form(lines=[{"item": item.pk, "quantity": "4", "unit_cost": "2.50"}]),
        },
    )

    # then: a draft with its line, costed by the service
    assert response.status_code == 302, response.content.decode()[:3000]
    document = Document.objects.get()
    assert (document.type, document.status, document.operator) == (
        "receipt",
        "draft",
        admin_client.user,
    )
    assert list(document.lines.values_list("direction", "quantity", "unit_cost", "amount")) == [
        (1, D("4"), D("2.5"), D("10.00"))
    ]

    # when: posted with the action, twice
    for _ in range(2):
        response = admin_client.post(
            admin_url(Document, "changelist"),
            {"action": "post_documents", "_selected_action": [document.pk]},
            follow=True,
        )
    messages = [str(m) for m in response.context["messages"]]
    document.refresh_from_db()
    assert document.status == "posted"
    assert messages == [f"{document.number} is already posted; nothing was changed."]
    assert Stock.objects.values_list("quantity", "value").get() == (D("4"), D("10.00"))


def test_invalid_lines_show_the_services_messages_and_save_nothing(admin_client, warehouse, item):
    def add(line):
        return admin_client.post(
            admin_url(Document, "add"),
            {
                "type": "receipt",
                "date": timezone.localdate().isoformat(),
                "warehouse": warehouse.pk,
                **line_form(lines=[line]),
            },
        )

    zero = add({"item": item.pk, "quantity": "0", "unit_cost": "2.50"})
    no_price = add({"item": item.pk, "quantity": "1"})

    assert (zero.status_code, no_price.status_code) == (200, 200)
    assert "The quantity must be greater than zero." in zero.content.decode()
    assert "Enter the unit price." in no_price.content.decode()
    assert Document.objects.count() == 0


def test_a_posted_document_is_read_only_and_cannot_be_deleted(admin_client, data, warehouse):
    posted = Document.objects.filter(status="posted").first()
    before = (Document.objects.count(), DocumentLine.objects.count(), LedgerEntry.objects.count())

    page = admin_client.get(admin_url(Document, "change", posted.pk))
    change = admin_client.post(admin_url(Document, "change", posted.pk), {"reason": "x"})
    delete = admin_client.post(admin_url(Document, "delete", posted.pk), {"post": "yes"})
    bulk = admin_client.post(
        admin_url(Document, "changelist"),
        {"action": "delete_selected", "_selected_action": [posted.pk], "post": "yes"},
    )

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert (change.status_code, delete.status_code) == (403, 403)
    assert bulk.status_code in (200, 302)
    assert Document.objects.get(pk=posted.pk).reason == ""
    assert (
        Document.objects.count(),
        DocumentLine.objects.count(),
        LedgerEntry.objects.count(),
    ) == before


def test_a_draft_can_be_deleted_in_the_admin(admin_client, data):
    response = admin_client.post(admin_url(Document, "delete", data.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Document.objects.filter(pk=data.pk).exists()


def test_a_warehouse_must_be_a_warehouse_location(admin_client, make_user):
    room = LocationFactory(name="会议室")
    store = LocationFactory(warehouse=True, name="二号仓")
    keeper = make_user("keeper")

    refused = admin_client.post(
        admin_url(Warehouse, "add"), {"location": room.pk, "is_active": "on"}
    )
    accepted = admin_client.post(
        admin_url(Warehouse, "add"),
        {"location": store.pk, "keepers": [keeper.pk], "is_active": "on"},
    )

    assert refused.status_code == 200
    assert accepted.status_code == 302
    assert list(Warehouse.objects.values_list("location__name", flat=True)) == ["二号仓"]
    assert list(Warehouse.objects.get().keepers.all()) == [keeper]


def test_items_export_as_csv(admin_client, data, item):
    response = admin_client.post(
        admin_url(Item, "changelist"),
        {"action": "export_csv", "_selected_action": [item.pk]},
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Item code", "Name", "Specification"]
    assert rows[1][:2] == ["TONER-26A", "硒鼓"]
