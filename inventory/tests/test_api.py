"""The scanner endpoint ``POST /inventory/api/issue/`` (session, CSRF, keeper of the
warehouse) and the ledger endpoint: each answer code, and nothing changed on refusals."""

import json
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from assets.tests.factories import PersonFactory
from inventory.models import Document, LedgerEntry

from .conftest import balance, receive
from .factories import WarehouseFactory

URL = "/inventory/api/issue/"
CSRF = "a" * 32  # a CSRF secret; the cookie and the header carry the same value


def api_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    if user is not None:
        client.force_login(user)
    return client


def post(client, data, *, csrf=True, **headers):
    if csrf:
        headers["X-CSRFToken"] = CSRF
    return client.post(URL, json.dumps(data), content_type="application/json", headers=headers)


@pytest.fixture
def stocked(keeper, warehouse, item):
    return receive(keeper, warehouse, item, 3, "50.00")


@pytest.fixture
def scan(warehouse, stocked):
    person = PersonFactory(employee_no="E1001")
    return {
        "warehouse": warehouse.pk,
        "barcode": stocked.barcode,
        "quantity": 1,
        "employee_no": person.employee_no,
    }


def state():
    return Document.objects.count(), LedgerEntry.objects.count()


def test_a_keeper_issues_by_scanning(keeper, warehouse, stocked, scan):
    response = post(api_client(keeper), scan)

    assert response.status_code == 200
    body = response.json()
    document = Document.objects.get(type="issue")
    assert body == {
        "ok": True,
        "posted": True,
        "message": f"{document.number} posted.",
        "document": {"id": document.pk, "number": document.number},
        "number": document.number,
    }
    assert document.person.employee_no == "E1001"
    assert balance(stocked, warehouse) == (D("2"), D("100.00"), D("50"))


def test_a_form_post_with_an_item_id_works_too(keeper, warehouse, stocked, scan):
    client = api_client(keeper)
    response = client.post(
        URL,
        {
            "warehouse": warehouse.pk,
            "item": stocked.pk,
            "quantity": "2",
            "person": PersonFactory().pk,
        },
        headers={"X-CSRFToken": CSRF},
    )
    assert response.status_code == 200, response.content
    assert balance(stocked, warehouse)[0] == D("1")


def test_not_enough_stock_answers_409_and_changes_nothing(keeper, warehouse, stocked, scan):
    before = state()
    response = post(api_client(keeper), {**scan, "quantity": 4})

    assert response.status_code == 409
    assert response.json() == {
        "ok": False,
        "code": "insufficient_stock",
        "message": f"Not enough stock of 硒鼓（TONER-26A） in {warehouse}: 3盒 available, "
        "4盒 requested.",
        "available": "3",
        "requested": "4",
    }
    assert state() == before


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"quantity": 0}, "lines", "Line 1: The quantity must be greater than zero."),
        ({"quantity": "two"}, "lines", "Line 1: Enter a number."),
        ({"barcode": "404"}, "lines", "Line 1: No item has the barcode or code “404”."),
        ({"employee_no": "NOBODY"}, "person", "No employee has the number “NOBODY”."),
        ({"warehouse": None}, "warehouse", "Choose a warehouse."),
    ],
)
def test_bad_input_answers_400_and_changes_nothing(keeper, scan, change, field, message):
    before = state()
    response = post(api_client(keeper), {**scan, **change})

    assert response.status_code == 400
    body = response.json()
    assert (body["ok"], body["code"], body["message"]) == (False, "invalid", message)
    assert body["errors"][field] == [message]
    assert state() == before


def test_a_replayed_scan_with_the_same_key_posts_once(keeper, warehouse, stocked, scan):
    client = api_client(keeper)
    first = post(client, scan, **{"Idempotency-Key": "hh-42-0001"})
    again = post(client, scan, **{"Idempotency-Key": "hh-42-0001"})

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["posted"] is True and again.json()["posted"] is False
    assert again.json()["number"] == first.json()["number"]
    assert (
        again.json()["message"] == f"{first.json()['number']} is already posted; nothing was "
        "changed."
    )
    assert balance(stocked, warehouse)[0] == D("2")


def test_a_scan_replayed_after_it_took_the_last_units_answers_200_not_409(
    keeper, warehouse, stocked, scan
):
    # given: a scan that took all 3 units, whose answer the scanner never got
    client = api_client(keeper)
    first = post(client, {**scan, "quantity": 3}, **{"Idempotency-Key": "hh-42-0002"})
    before = state()

    # when: it sends the same request again
    again = post(client, {**scan, "quantity": 3}, **{"Idempotency-Key": "hh-42-0002"})

    # then: the first document, unchanged, not "not enough stock"
    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json()["posted"], again.json()["posted"]) == (True, False)
    assert again.json()["document"] == first.json()["document"]
    assert state() == before
    assert balance(stocked, warehouse)[0] == D("0")


def test_a_keeper_of_another_warehouse_is_refused(make_user, scan):
    stranger = make_user("keeper")
    WarehouseFactory(keepers=[stranger])
    before = state()

    response = post(api_client(stranger), scan)

    assert response.status_code == 403
    assert response.json()["message"].startswith("You are not a keeper of ")
    assert state() == before


def test_other_roles_anonymous_users_and_missing_csrf_are_refused(make_user, keeper, scan):
    before = state()
    assert post(api_client(make_user("employee")), scan).status_code == 403
    assert post(api_client(make_user("clerk")), scan).status_code == 403
    assert post(api_client(), scan).status_code == 401
    assert post(api_client(keeper), scan, csrf=False).status_code == 403
    assert api_client(keeper).get(URL).status_code == 405
    assert state() == before


def test_the_ledger_endpoint_pages_an_items_ledger(keeper, make_user, warehouse, stocked, scan):
    post(api_client(keeper), scan)
    url = reverse("inventory:api_ledger", args=[stocked.pk])

    body = api_client(keeper).get(url).json()

    assert [(e["quantity"], e["balance"], e["value"]) for e in body["entries"]] == [
        ("-1", "2", "100.00"),
        ("3", "3", "150.00"),
    ]
    assert (body["older"], body["newer"]) == (None, None)
    assert api_client(make_user("employee")).get(url).status_code == 403
    assert api_client(keeper).get(reverse("inventory:api_ledger", args=[999999])).status_code == 404
