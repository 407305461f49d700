"""Repair orders: list (filters, htmx fragment, bounded queries), detail, roles, and the cost
roll-up on the asset page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from assets.lifecycle import TRANSITIONS
from assets.models import RepairOrder
from assets.services import asset_transition

from .factories import AssetFactory, PersonFactory, RepairOrderFactory, SupplierFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = reverse("assets:repair_list")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/media/"},
        },
    }


def numbers(response) -> list[str]:
    return [o.number for o in response.context["orders"]]


def test_list_full_page_newest_first(client_as):
    client = client_as("clerk")
    older, newer = RepairOrderFactory(fault="风扇异响"), RepairOrderFactory(fault="屏幕碎裂")
    response = client.get(LIST)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    assert numbers(response) == [newer.number, older.number]
    assert "风扇异响" in body and "屏幕碎裂" in body


def test_list_htmx_gets_the_table_only(client_as):
    client = client_as("clerk")
    RepairOrderFactory()
    response = client.get(LIST, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="repair-table">')
    assert "<html" not in body


def test_list_filters_by_state_vendor_and_tag(client_as):
    client = client_as("clerk")
    vendor = SupplierFactory(name="戴尔服务站")
    open_one = RepairOrderFactory(in_repair=True, vendor=vendor)
    done = RepairOrderFactory(done=True, vendor=vendor)
    other = RepairOrderFactory(in_repair=True)
    assert numbers(client.get(LIST, {"state": "in_repair"})) == [other.number, open_one.number]
    assert numbers(client.get(LIST, {"vendor": vendor.pk})) == [done.number, open_one.number]
    assert numbers(client.get(LIST, {"q": done.asset.tag})) == [done.number]
    # nonsense filters are ignored, not errors
    assert client.get(LIST, {"state": "bogus", "vendor": "x"}).status_code == 200


@pytest.mark.parametrize(("role", "status"), [("auditor", 200), ("admin", 200)])
def test_list_for_auditor_and_admin(client_as, role, status):
    assert client_as(role).get(LIST).status_code == status


@pytest.mark.parametrize("role", ["employee", "dept_head", "keeper"])
def test_list_and_detail_are_403_for_other_roles(client_as, role):
    client = client_as(role)
    order = RepairOrderFactory()
    assert client.get(LIST).status_code == 403
    assert client.get(order.get_absolute_url()).status_code == 403


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(LIST).status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_rows(client_as):
    client = client_as("clerk")
    RepairOrderFactory.create_batch(2, vendor=SupplierFactory())
    _list_queries(client)  # warm caches
    few = _list_queries(client)
    RepairOrderFactory.create_batch(30, vendor=SupplierFactory())
    many = _list_queries(client)
    assert few == many
    # session, user, permissions (2), nav (2), count, page, vendors
    assert many <= 10


def test_detail_shows_the_order_attachments_and_steps(client_as):
    # given: sent to repair with a photo, then repaired
    client = client_as("clerk")
    asset = AssetFactory(assigned=True, holder=PersonFactory())
    asset_transition(
        asset=asset,
        transition="send_to_repair",
        actor=client.user,
        data={
            "fault": "无法充电",
            "vendor": SupplierFactory(name="华硕售后"),
            "expected_cost": Decimal("300"),
            "attachment": SimpleUploadedFile("报价单.pdf", PDF, "application/pdf"),
        },
    )
    asset_transition(
        asset=asset,
        transition="repair_done",
        actor=client.user,
        data={"actual_cost": Decimal("280.00"), "result": "更换充电口"},
    )
    order = RepairOrder.objects.get(asset=asset)
    # when
    response = client.get(order.get_absolute_url())
    # then
    body = response.content.decode()
    assert response.status_code == 200
    for text in (order.number, "无法充电", "华硕售后", "280.00", "更换充电口", "报价单.pdf"):
        assert text in body, text
    with translation.override("zh-hans"):
        expected = [str(TRANSITIONS[n].label) for n in ("send_to_repair", "repair_done")]
    assert [str(label) for _event, label in response.context["events"]] == expected


def test_detail_404_for_an_unknown_order(client_as):
    assert client_as("clerk").get(reverse("assets:repair_detail", args=[999999])).status_code == 404


def test_repair_costs_roll_up_on_the_asset_page(client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    RepairOrderFactory(asset=asset, done=True, actual_cost=Decimal("120.00"))
    RepairOrderFactory(asset=asset, done=True, actual_cost=Decimal("80.50"))
    RepairOrderFactory(asset=asset)  # reported, no cost yet
    response = client.get(asset.get_absolute_url())
    body = response.content.decode()
    assert response.context["repair_totals"] == {"count": 3, "cost": Decimal("200.50")}
    assert 'data-testid="repair-total">200.50<' in body
