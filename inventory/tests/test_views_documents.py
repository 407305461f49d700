"""The document pages: list, detail with post / reverse / delete, the create and edit form with
line editing and barcode entry, and the bad input of the issue refused at the page level with
nothing changed."""

import html
import re
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from assets.tests.factories import PersonFactory, SupplierFactory
from inventory import services
from inventory.models import Document, DocumentLine, LedgerEntry

from .conftest import balance
from .factories import (
    DocumentFactory,
    ItemFactory,
    RequisitionFactory,
    WarehouseFactory,
)

LIST = reverse("inventory:document_list")
HTMX = {"HX-Request": "true"}


def new_url(doc_type):
    return reverse("inventory:document_create", args=[doc_type])


def detail_url(document):
    return reverse("inventory:document_detail", args=[document.pk])


@pytest.fixture
def login(client_as):
    """A client logged in as ``user`` (or a new user of ``role``) that reads English."""

    def _login(user=None, role=None):
        client = client_as(role=role, user=user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return _login


def receive(keeper, warehouse, item, quantity, cost="10.00"):
    return services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": item, "quantity": quantity, "unit_cost": cost}],
    ).document


def draft_issue(keeper, warehouse, item, quantity, person):
    return services.document_create(
        actor=keeper,
        type="issue",
        warehouse=warehouse,
        person=person,
        lines=[{"item": item, "quantity": quantity}],
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def state():
    """Everything a refused request must leave as it was."""
    return (
        Document.objects.count(),
        DocumentLine.objects.count(),
        LedgerEntry.objects.count(),
        list(Document.objects.order_by("id").values_list("status", flat=True)),
    )


def receipt_form(warehouse, *lines, **extra):
    """POST data of the receipt form: lines are (item, quantity, unit price) tuples."""
    data = {
        "date": "2026-01-05",
        "warehouse": warehouse.pk,
        "supplier": "",
        "invoice_no": "",
        "reason": "",
        "idempotency_key": "",
        "line_item": [],
        "line_code": [],
        "line_quantity": [],
        "line_unit_cost": [],
        "line_direction": [],
    }
    for item, quantity, cost in lines:
        data["line_item"].append(item.pk if item else "")
        data["line_code"].append("")
        data["line_quantity"].append(quantity)
        data["line_unit_cost"].append(cost)
        data["line_direction"].append("")
    data.update(extra)
    return data


def issue_form(warehouse, person, *lines, **extra):
    data = receipt_form(warehouse, *[(item, q, "") for item, q in lines], **extra)
    data.pop("supplier")
    data.pop("invoice_no")
    data.update(person=person.pk, department="")
    return data


def row_quantities(body: str) -> list[str]:
    return re.findall(r'name="line_quantity"\s+value="([^"]*)"', body)


# --- List -------------------------------------------------------------------------------------


def test_the_list_shows_the_keepers_documents(login, keeper, warehouse, item, person):
    posted = receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 1, person)
    elsewhere = DocumentFactory(lines=[(item, 1, "1")])  # a warehouse the keeper does not keep

    response = login(keeper).get(LIST)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and 'id="document-table"' in body
    assert [d.pk for d in response.context["documents"]] == [draft.pk, posted.pk]
    assert posted.number in body
    assert f"Draft #{draft.pk}" in body
    assert detail_url(elsewhere) not in body
    assert 'data-testid="new-receipt"' in body


def test_an_htmx_filter_change_gets_only_the_table(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 1, person)

    response = login(keeper).get(LIST, {"type": "issue"}, headers=HTMX)

    body = response.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="document-table">')
    assert re.findall(r'href="/inventory/documents/(\d+)/"', body) == [str(draft.pk)]
    assert response["HX-Push-Url"] == f"{LIST}?type=issue"


def test_the_list_filters(login, keeper, warehouse, item, person):
    other = WarehouseFactory(keepers=[keeper])
    first = receive(keeper, warehouse, item, 5)
    second = receive(keeper, other, item, 5)
    draft = draft_issue(keeper, warehouse, item, 1, person)
    Document.objects.filter(pk=first.pk).update(date="2026-01-02")
    client = login(keeper)

    def ids(**params):
        return [d.pk for d in client.get(LIST, params).context["documents"]]

    assert ids(status="draft") == [draft.pk]
    assert ids(status="posted", type="receipt") == [second.pk, first.pk]
    assert ids(warehouse=other.pk) == [second.pk]
    assert ids(date_to="2026-01-03") == [first.pk]
    assert ids(q=second.number) == [second.pk]
    assert ids(q=second.number[:2]) == [second.pk, first.pk]
    assert ids(date_from="not a date") == [draft.pk, second.pk, first.pk]


@pytest.mark.parametrize("role", ["clerk", "admin", "auditor"])
def test_roles_that_see_everything_list_every_document(login, role, item):
    document = DocumentFactory(lines=[(item, 1, "1")])

    response = login(role=role).get(LIST)

    assert [d.pk for d in response.context["documents"]] == [document.pk]


def test_an_auditor_is_offered_no_create_buttons(login, item):
    body = login(role="auditor").get(LIST).content.decode()

    assert 'data-testid="create-buttons"' not in body


@pytest.mark.parametrize("role", ["employee", "dept_head", None])
def test_other_roles_are_refused_every_document_page(login, role, item):
    document = DocumentFactory(lines=[(item, 1, "1")])
    client = login(role=role)
    before = state()

    assert client.get(LIST).status_code == 403
    assert client.get(detail_url(document)).status_code == 403
    assert client.get(new_url("receipt")).status_code == 403
    assert client.post(reverse("inventory:document_post", args=[document.pk])).status_code == 403
    assert client.post(reverse("inventory:document_delete", args=[document.pk])).status_code == 403
    assert state() == before


@pytest.mark.parametrize("rows", [10, 100])
def test_the_list_costs_a_constant_number_of_queries(
    login, keeper, warehouse, rows, django_assert_max_num_queries
):
    supplier = SupplierFactory()
    item = ItemFactory()
    for _ in range(rows):
        services.document_create(
            actor=keeper,
            type="receipt",
            warehouse=warehouse,
            supplier=supplier,
            lines=[{"item": item, "quantity": 1, "unit_cost": "1"}],
        )
    client = login(keeper)
    client.get(LIST)

    with django_assert_max_num_queries(12):
        response = client.get(LIST, {"type": "receipt"})

    assert len(response.context["documents"]) == min(rows, 50)


# --- Detail -----------------------------------------------------------------------------------


def test_the_detail_shows_the_document_and_the_keepers_buttons(
    login, keeper, warehouse, item, person
):
    receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 2, person)

    response = login(keeper).get(detail_url(draft))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and 'id="document-detail"' in body
    assert item.name in body and "张三" in body
    for testid in ("post-document", "edit-document", "delete-document"):
        assert f'data-testid="{testid}"' in body
    assert 'data-testid="document-pdf"' not in body  # drafts have no PDF


def test_the_detail_as_an_htmx_fragment(login, keeper, warehouse, item):
    document = receive(keeper, warehouse, item, 5)

    response = login(keeper).get(detail_url(document), headers=HTMX)

    body = response.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="document-detail">')
    assert document.number in body
    assert 'data-testid="reverse-document"' in body
    assert 'data-testid="document-pdf"' in body


def test_an_auditor_reads_a_document_without_buttons(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 2, person)

    body = login(role="auditor").get(detail_url(draft)).content.decode()

    assert item.name in body
    for testid in ("post-document", "edit-document", "delete-document", "reverse-document"):
        assert f'data-testid="{testid}"' not in body


def test_another_keepers_document_is_404(login, keeper, item):
    document = DocumentFactory(lines=[(item, 1, "1")])

    assert login(keeper).get(detail_url(document)).status_code == 404


@pytest.mark.parametrize("lines", [2, 40])
def test_the_detail_costs_a_constant_number_of_queries(
    login, keeper, warehouse, lines, django_assert_max_num_queries
):
    items = ItemFactory.create_batch(lines)
    document = services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        lines=[{"item": i, "quantity": 1, "unit_cost": "1"} for i in items],
    ).document
    client = login(keeper)
    client.get(detail_url(document))

    with django_assert_max_num_queries(12):
        response = client.get(detail_url(document))

    assert len(response.context["lines"]) == lines


# --- Post, reverse, delete --------------------------------------------------------------------


def test_posting_a_draft(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 2, person)

    response = login(keeper).post(reverse("inventory:document_post", args=[draft.pk]), follow=True)

    draft.refresh_from_db()
    assert draft.status == "posted"
    assert messages_of(response) == [f"{draft.number} posted."]
    assert balance(item, warehouse)[0] == D("3")


def test_posting_twice_is_a_no_op_with_a_message(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 2, person)
    client = login(keeper)
    url = reverse("inventory:document_post", args=[draft.pk])
    client.post(url, follow=True)
    before = state(), balance(item, warehouse)

    response = client.post(url, follow=True)

    draft.refresh_from_db()
    assert messages_of(response) == [f"{draft.number} is already posted; nothing was changed."]
    assert (state(), balance(item, warehouse)) == before


def test_posting_more_than_is_in_stock_is_refused(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 1)
    draft = draft_issue(keeper, warehouse, item, 3, person)
    before = state(), balance(item, warehouse)

    response = login(keeper).post(reverse("inventory:document_post", args=[draft.pk]), follow=True)

    [message] = messages_of(response)
    assert message.startswith("Not enough stock of 硒鼓（TONER-26A）")
    assert "1盒 available, 3盒 requested" in message
    assert (state(), balance(item, warehouse)) == before


def test_an_auditor_cannot_post(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 2, person)
    before = state()

    response = login(role="auditor").post(reverse("inventory:document_post", args=[draft.pk]))

    assert response.status_code == 403
    assert state() == before


def test_a_keeper_cannot_post_for_a_warehouse_they_do_not_keep(
    login, make_user, keeper, warehouse, item, person
):
    receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 2, person)
    stranger = make_user("keeper")
    before = state()

    response = login(stranger).post(reverse("inventory:document_post", args=[draft.pk]))

    assert response.status_code == 404  # not in their scope at all
    assert state() == before


def test_reversing_a_posted_document(login, keeper, warehouse, item):
    document = receive(keeper, warehouse, item, 5)

    response = login(keeper).post(
        reverse("inventory:document_reverse", args=[document.pk]),
        {"reason": "录入错误"},
        follow=True,
    )

    document.refresh_from_db()
    reversal = Document.objects.get(reverses=document)
    assert document.status == "reversed"
    assert response.redirect_chain[-1][0] == detail_url(reversal)
    assert messages_of(response) == [f"{document.number} was reversed by {reversal.number}."]
    assert balance(item, warehouse)[0] == D("0")


def test_a_reversal_needs_a_reason(login, keeper, warehouse, item):
    document = receive(keeper, warehouse, item, 5)
    before = state()

    response = login(keeper).post(
        reverse("inventory:document_reverse", args=[document.pk]), {"reason": " "}, follow=True
    )

    assert messages_of(response) == ["Give the reason for the reversal."]
    assert state() == before


def test_deleting_a_draft(login, keeper, warehouse, item, person):
    draft = draft_issue(keeper, warehouse, item, 2, person)

    response = login(keeper).post(
        reverse("inventory:document_delete", args=[draft.pk]), follow=True
    )

    assert response.redirect_chain[-1][0] == LIST
    assert not Document.objects.filter(pk=draft.pk).exists()


def test_a_posted_document_cannot_be_deleted(login, keeper, warehouse, item):
    document = receive(keeper, warehouse, item, 5)
    before = state()

    response = login(keeper).post(
        reverse("inventory:document_delete", args=[document.pk]), follow=True
    )

    assert messages_of(response) == [
        f"{document.number} is posted: it cannot be changed or deleted; reverse it instead."
    ]
    assert state() == before


def test_get_is_not_allowed_on_the_actions(login, keeper, warehouse, item):
    document = receive(keeper, warehouse, item, 5)
    client = login(keeper)

    for name in ("document_post", "document_reverse", "document_delete"):
        assert client.get(reverse(f"inventory:{name}", args=[document.pk])).status_code == 405


# --- The form: create ---------------------------------------------------------------------------


def test_the_receipt_form_page(login, keeper, warehouse):
    response = login(keeper).get(new_url("receipt"))

    assert response.status_code == 200
    body = response.content.decode()
    for name in ("supplier", "invoice_no", "line_unit_cost", "scan"):
        assert f'name="{name}"' in body
    assert 'name="person"' not in body
    # The barcode box's button is the form's first submit button (a scanner's Enter).
    assert re.findall(r'type="submit" name="action" value="(\w+)', body)[0] == "scan"


def test_saving_a_receipt_as_a_draft(login, keeper, warehouse, item):
    supplier = SupplierFactory(name="京东")
    data = receipt_form(
        warehouse, (item, "10", "12.50"), supplier=supplier.pk, invoice_no="FP-001", action="save"
    )

    response = login(keeper).post(new_url("receipt"), data, follow=True)

    document = Document.objects.get()
    assert response.redirect_chain[-1][0] == detail_url(document)
    assert (document.status, document.supplier, document.invoice_no) == (
        "draft",
        supplier,
        "FP-001",
    )
    line = document.lines.get()
    assert (line.item, line.quantity, line.unit_cost, line.amount) == (
        item,
        D("10"),
        D("12.5"),
        D("125.00"),
    )
    assert balance(item, warehouse) is None


def test_saving_and_posting_a_receipt(login, keeper, warehouse, item):
    data = receipt_form(warehouse, (item, "10", "12.50"), action="save_post")

    response = login(keeper).post(new_url("receipt"), data, follow=True)

    document = Document.objects.get()
    assert document.status == "posted"
    assert messages_of(response) == [f"{document.number} posted."]
    assert balance(item, warehouse) == (D("10"), D("125.00"), D("12.5"))


def test_a_replayed_form_creates_one_document(login, keeper, warehouse, item):
    data = receipt_form(warehouse, (item, "10", "12.50"), action="save_post", idempotency_key="k1")
    client = login(keeper)
    client.post(new_url("receipt"), data, follow=True)

    response = client.post(new_url("receipt"), data, follow=True)

    document = Document.objects.get()
    assert messages_of(response) == [f"{document.number} is already posted; nothing was changed."]
    assert balance(item, warehouse)[0] == D("10")


def test_an_issue_to_a_person(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 5)
    data = issue_form(warehouse, person, (item, "2"), action="save_post")

    login(keeper).post(new_url("issue"), data)

    document = Document.objects.get(type="issue")
    assert (document.status, document.person) == ("posted", person)
    assert balance(item, warehouse)[0] == D("3")


def test_a_transfer(login, keeper, warehouse, item):
    other = WarehouseFactory(keepers=[keeper])
    receive(keeper, warehouse, item, 5)
    data = receipt_form(warehouse, (item, "2", ""), to_warehouse=other.pk, action="save_post")

    login(keeper).post(new_url("transfer"), data)

    assert Document.objects.get(type="transfer").status == "posted"
    assert balance(item, warehouse)[0] == D("3")
    assert balance(item, other)[0] == D("2")


def test_a_return_from_a_person(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 5, "10.00")
    data = issue_form(warehouse, person, (item, "1"), action="save_post")

    login(keeper).post(new_url("return"), data)

    assert Document.objects.get(type="return").status == "posted"
    assert balance(item, warehouse) == (D("6"), D("60.00"), D("10"))


def test_a_manual_adjustment_needs_a_reason(login, keeper, warehouse, item):
    receive(keeper, warehouse, item, 5)
    data = receipt_form(warehouse, (item, "1", ""), action="save_post", line_direction=["out"])
    client = login(keeper)
    before = state()

    refused = client.post(new_url("adjustment"), data)
    data["reason"] = "破损"
    done = client.post(new_url("adjustment"), data)

    assert refused.status_code == 200
    assert "Give the reason for the adjustment." in refused.content.decode()
    assert done.status_code == 302
    assert state()[0] == before[0] + 1
    assert balance(item, warehouse)[0] == D("4")


def test_a_manual_adjustment_needs_the_adjust_permission(login, make_user, keeper, warehouse):
    user = make_user("keeper")
    warehouse.keepers.add(user)
    user.user_permissions.set([])
    user.groups.clear()
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="inventory",
            codename__in=["view_document", "add_document", "post_document"],
        )
    )
    client = login(user)

    assert client.get(new_url("receipt")).status_code == 200
    assert client.get(new_url("adjustment")).status_code == 403


def test_stocktake_and_unknown_types_have_no_form(login, keeper, warehouse):
    client = login(keeper)

    assert client.get(new_url("stocktake_gain")).status_code == 404
    assert client.get(new_url("nonsense")).status_code == 404


def test_a_keeper_without_a_warehouse_is_refused(login, make_user):
    assert login(make_user("keeper")).get(new_url("receipt")).status_code == 403


def test_an_auditor_cannot_create(login, warehouse):
    assert login(role="auditor").get(new_url("receipt")).status_code == 403


def test_the_issue_form_starts_from_a_requisition(login, keeper, warehouse, item, person):
    requisition = RequisitionFactory(requester=person, approved=True, lines=[(item, 3)])

    response = login(keeper).get(new_url("issue"), {"requisition": requisition.pk})

    body = response.content.decode()
    assert row_quantities(body) == ["3"]
    assert f'<option value="{requisition.pk}" selected>' in body
    assert f'<option value="{person.pk}" selected>' in body


# --- Line editing and barcode entry -------------------------------------------------------------


def test_adding_and_removing_lines_with_htmx(login, keeper, warehouse, item):
    other = ItemFactory(code="MOUSE-1", name="鼠标")
    client = login(keeper)
    data = receipt_form(warehouse, (item, "2", "1"), (other, "3", "2"), action="add")

    added = client.post(new_url("receipt"), data, headers=HTMX)
    data["action"] = "remove:0"
    removed = client.post(new_url("receipt"), data, headers=HTMX)

    body = added.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="doc-lines"')
    assert row_quantities(body) == ["2", "3", ""]
    assert row_quantities(removed.content.decode()) == ["3"]
    assert "鼠标" in removed.content.decode() and item.name not in removed.content.decode()
    assert Document.objects.count() == 0


def test_scanning_adds_a_line_then_counts_up(login, keeper, warehouse, item):
    client = login(keeper)
    data = issue_form(warehouse, PersonFactory(), action="scan", scan=item.barcode)
    data.update(line_item=[""], line_code=[""], line_quantity=[""], line_unit_cost=[""])
    data["line_direction"] = [""]

    first = client.post(new_url("issue"), data, headers=HTMX)
    body = first.content.decode()
    data.update(line_item=[str(item.pk)], line_code=[""], line_quantity=["1"])
    second = client.post(new_url("issue"), data, headers=HTMX)

    assert re.findall(r'name="line_item" value="(\d*)"', body) == [str(item.pk)]
    assert row_quantities(body) == ["1"]  # the blank row was used
    assert item.name in body
    assert row_quantities(second.content.decode()) == ["2"]
    assert "autofocus" in body  # the scan box keeps the focus
    assert Document.objects.count() == 0


def test_scanning_by_item_code_works_too(login, keeper, warehouse, item):
    data = receipt_form(warehouse, action="scan", scan=item.code)

    response = login(keeper).post(new_url("receipt"), data, headers=HTMX)

    assert re.findall(r'name="line_item" value="(\d*)"', response.content.decode()) == [
        str(item.pk)
    ]


def test_an_unknown_barcode_is_refused_and_nothing_is_added(login, keeper, warehouse, item):
    data = receipt_form(warehouse, (item, "2", "1"), action="scan", scan="0000000000000")

    response = login(keeper).post(new_url("receipt"), data, headers=HTMX)

    body = response.content.decode()
    assert 'data-testid="scan-error"' in body
    assert "Unknown barcode “0000000000000”" in body
    assert row_quantities(body) == ["2"]
    assert Document.objects.count() == 0


def test_the_unknown_barcode_message_is_chinese_by_default(client_as, keeper, warehouse, item):
    data = receipt_form(warehouse, action="scan", scan="0000000000000")

    response = client_as(user=keeper).post(new_url("receipt"), data, headers=HTMX)

    error = re.search(r'data-testid="scan-error">([^<]+)<', response.content.decode())[1]
    with translation.override("zh-hans"):
        expected = gettext(
            "Unknown barcode “%(code)s”: no item has this barcode or code; nothing was added."
        ) % {"code": "0000000000000"}
    assert html.unescape(error) == expected


def test_scanning_without_javascript_renders_the_whole_form(login, keeper, warehouse, item):
    data = receipt_form(warehouse, action="scan", scan=item.barcode, invoice_no="FP-9")

    response = login(keeper).post(new_url("receipt"), data)

    body = response.content.decode()
    assert "<html" in body
    assert 'value="FP-9"' in body  # the header is kept
    assert row_quantities(body) == ["1"]
    assert Document.objects.count() == 0


def test_enter_in_another_field_saves_nothing_and_shows_no_error(login, keeper, warehouse, item):
    # Enter in the quantity box "clicks" the form's first submit button: the barcode's.
    data = receipt_form(warehouse, (item, "3", "10"), action="scan", scan="")

    response = login(keeper).post(new_url("receipt"), data, headers=HTMX)

    body = response.content.decode()
    assert 'data-testid="scan-error"' not in body
    assert row_quantities(body) == ["3"]
    assert Document.objects.count() == 0


def test_a_typed_code_is_resolved_on_refresh(login, keeper, warehouse, item):
    data = receipt_form(warehouse, action="refresh")
    data.update(line_item=[""], line_code=[item.code], line_quantity=["4"])
    data.update(line_unit_cost=["1"], line_direction=[""])

    response = login(keeper).post(new_url("receipt"), data, headers=HTMX)

    body = response.content.decode()
    assert re.findall(r'name="line_item" value="(\d*)"', body) == [str(item.pk)]
    assert row_quantities(body) == ["4"]


# --- Bad input refused with nothing changed ---------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "The quantity must be greater than zero."),
        ("-2", "The quantity must be greater than zero."),
        ("abc", "Enter a number."),
        ("1.5", "is counted in whole units"),
    ],
)
def test_a_bad_quantity_is_refused(login, keeper, warehouse, item, quantity, message):
    before = state()
    data = receipt_form(warehouse, (item, quantity, "1"), action="save_post")

    response = login(keeper).post(new_url("receipt"), data)

    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert row_quantities(body) == [quantity]  # the row is shown again as typed
    assert state() == before
    assert balance(item, warehouse) is None


def test_a_receipt_without_a_unit_price_is_refused(login, keeper, warehouse, item):
    before = state()

    response = login(keeper).post(
        new_url("receipt"), receipt_form(warehouse, (item, "2", ""), action="save")
    )

    assert "Enter the unit price." in response.content.decode()
    assert state() == before


def test_an_unknown_code_in_a_row_is_refused(login, keeper, warehouse):
    data = receipt_form(warehouse, action="save")
    data.update(line_item=[""], line_code=["NOPE"], line_quantity=["1"])
    data.update(line_unit_cost=["1"], line_direction=[""])
    before = state()

    response = login(keeper).post(new_url("receipt"), data)

    assert "No item has the barcode or code “NOPE”." in response.content.decode()
    assert state() == before


def test_a_document_without_lines_is_refused(login, keeper, warehouse):
    before = state()

    response = login(keeper).post(new_url("receipt"), receipt_form(warehouse, action="save"))

    assert "Add at least one line." in response.content.decode()
    assert state() == before


def test_issuing_from_a_warehouse_the_keeper_does_not_keep_is_refused(
    login, keeper, warehouse, item, person
):
    foreign = WarehouseFactory()
    receive(None, foreign, item, 5)
    before = state(), balance(item, foreign)

    response = login(keeper).post(
        new_url("issue"), issue_form(foreign, person, (item, "1"), action="save_post")
    )

    assert response.status_code == 200
    assert f"You are not a keeper of {foreign}." in response.content.decode()
    assert (state(), balance(item, foreign)) == before


def test_issuing_more_than_in_stock_from_the_form_leaves_nothing(
    login, keeper, warehouse, item, person
):
    receive(keeper, warehouse, item, 1)
    before = state(), balance(item, warehouse)

    response = login(keeper).post(
        new_url("issue"), issue_form(warehouse, person, (item, "2"), action="save_post")
    )

    assert "1盒 available, 2盒 requested" in response.content.decode()
    assert (state(), balance(item, warehouse)) == before


# --- The form: edit ---------------------------------------------------------------------------


def test_editing_a_draft(login, keeper, warehouse, item, person):
    receive(keeper, warehouse, item, 5)
    draft = draft_issue(keeper, warehouse, item, 2, person)
    url = reverse("inventory:document_edit", args=[draft.pk])
    client = login(keeper)

    page = client.get(url)
    response = client.post(url, issue_form(warehouse, person, (item, "4"), action="save"))

    assert row_quantities(page.content.decode()) == ["2"]
    assert response.status_code == 302
    assert draft.lines.get().quantity == D("4")


def test_editing_a_posted_document_is_refused(login, keeper, warehouse, item, person):
    document = receive(keeper, warehouse, item, 5)
    url = reverse("inventory:document_edit", args=[document.pk])
    client = login(keeper)
    before = state(), balance(item, warehouse)

    page = client.get(url, follow=True)
    posted = client.post(url, receipt_form(warehouse, (item, "9", "1"), action="save"), follow=True)

    expected = f"{document.number} is posted: it cannot be changed or deleted; reverse it instead."
    assert page.redirect_chain[-1][0] == detail_url(document)
    assert messages_of(page) == [expected]
    assert messages_of(posted) == [expected]
    assert (state(), balance(item, warehouse)) == before
    assert document.lines.get().quantity == D("5")
