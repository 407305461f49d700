"""The requisition pages (领用申请): /me/requisitions/ (list, new request with line editing,
cancel), the detail, department heads' approvals, and the keepers' queue and fulfilment with
the barcode box. Each page: full page, htmx fragment, wrong role 403/404, and a query count
that does not grow with rows; refusals change nothing."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from assets.tests.org import make_org
from inventory import services
from inventory.models import Document, LedgerEntry, Requisition, RequisitionLine

from .conftest import balance, receive
from .factories import ItemFactory, RequisitionFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
MINE = "/me/requisitions/"
APPROVALS = "/inventory/requisitions/approvals/"
QUEUE = "/inventory/requisitions/"
State = Requisition.State


@pytest.fixture
def org(make_user):
    return make_org(make_user)


@pytest.fixture
def stocked(keeper, warehouse, item):
    """10 boxes of toner at 80.00 in the keeper's warehouse."""
    return receive(keeper, warehouse, item, 10, "80.00")


@pytest.fixture
def as_user(client):
    """as_user(user) → the test client logged in as ``user``, in English."""

    def _login(user):
        client.force_login(user)
        client.cookies["django_language"] = "en"
        return client

    return _login


def submitted(org, item, quantity=2, requester=None):
    return RequisitionFactory(
        requester=requester or org.tester_person, lines=[(item, quantity)], reason="换硒鼓"
    )


def approved(org, item, quantity=2, requester=None):
    return RequisitionFactory(
        requester=requester or org.tester_person,
        approved=True,
        lines=[(item, quantity)],
        reason="换硒鼓",
    )


def snapshot(requisition):
    requisition.refresh_from_db()
    return (
        requisition.state,
        list(requisition.lines.values_list("item_id", "quantity", "issued_quantity")),
        Document.objects.count(),
        LedgerEntry.objects.count(),
    )


def detail_url(requisition):
    return reverse("inventory:requisition_detail", args=[requisition.pk])


def fulfil_url(requisition):
    return reverse("inventory:requisition_fulfil", args=[requisition.pk])


# --- /me/requisitions/ ------------------------------------------------------------------------


def test_the_url_is_me_requisitions():
    assert reverse("me:requisitions") == MINE


def test_my_requisitions_lists_only_mine_and_the_form(org, item, as_user):
    # given
    mine = submitted(org, item)
    submitted(org, item, requester=org.employee_person)

    # when
    response = as_user(org.tester).get(MINE)

    # then
    assert response.status_code == 200
    assert [r.pk for r in response.context["page"].object_list] == [mine.pk]
    body = response.content.decode()
    assert 'id="requisition-form"' in body
    assert f'data-requisition="{mine.pk}"' in body
    assert "Submitted" in body


def test_my_requisitions_htmx_get_is_the_list_fragment(org, item, as_user):
    submitted(org, item)
    body = as_user(org.tester).get(MINE, **HTMX).content.decode()
    assert body.lstrip().startswith('<section id="requisition-list"')


@pytest.mark.parametrize("url", [MINE, "/me/requisitions/items/?q=x"])
def test_self_service_needs_a_staff_record(org, as_user, url):
    assert as_user(org.lone).get(url).status_code == 403
    assert as_user(org.lone).post(MINE, {"action": "submit"}).status_code == 403


def test_my_requisitions_query_count_does_not_grow(org, as_user, django_assert_max_num_queries):
    items = [ItemFactory() for _ in range(3)]
    for _ in range(2):
        RequisitionFactory(requester=org.tester_person, lines=[(i, 1) for i in items])
    client = as_user(org.tester)
    with django_assert_max_num_queries(30) as few:
        client.get(MINE)
    for _ in range(15):
        RequisitionFactory(requester=org.tester_person, lines=[(i, 1) for i in items])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(MINE)
    assert len(response.context["page"].object_list) == 17


def test_a_barcode_in_the_search_box_adds_the_item(org, item, as_user):
    # when: a scanner types the barcode and Enter (the search button is the first submit)
    response = as_user(org.tester).post(
        MINE, {"action": "search", "q": item.barcode, "for_whom": "me"}, **HTMX
    )

    # then: the form comes back with one line of 1, and nothing is saved
    body = response.content.decode()
    assert body.lstrip().startswith('<form id="requisition-form"')
    assert f'name="line_item" value="{item.pk}"' in body
    assert 'name="line_quantity" value="1"' in body
    assert not Requisition.objects.exists()


def test_searching_shows_items_to_add_and_adding_twice_counts_two(org, item, as_user):
    client = as_user(org.tester)
    other = ItemFactory(name="硒鼓 彩色", code="TONER-COLOR")

    # when: a name matches two items
    results = client.post(MINE, {"action": "search", "q": "硒鼓"}, **HTMX).content.decode()

    # then: both are offered as buttons
    assert f'name="add" value="{item.pk}"' in results
    assert f'name="add" value="{other.pk}"' in results

    # when: the same item is added to a form that has it already
    body = client.post(
        MINE, {"add": item.pk, "line_item": [item.pk], "line_quantity": ["1"]}, **HTMX
    ).content.decode()

    # then: one row, two of it
    assert body.count('name="line_item"') == 1
    assert 'name="line_quantity" value="2"' in body


def test_removing_a_line(org, item, as_user):
    other = ItemFactory()
    body = (
        as_user(org.tester)
        .post(
            MINE,
            {"drop": "0", "line_item": [item.pk, other.pk], "line_quantity": ["1", "3"]},
            **HTMX,
        )
        .content.decode()
    )
    assert f'name="line_item" value="{item.pk}"' not in body
    assert f'name="line_item" value="{other.pk}"' in body


def test_an_unknown_search_says_so(org, as_user):
    body = (
        as_user(org.tester).post(MINE, {"action": "search", "q": "不存在"}, **HTMX).content.decode()
    )
    assert "No item matches “不存在”." in body


def test_item_search_endpoint_lists_matches(org, item, as_user):
    body = as_user(org.tester).get("/me/requisitions/items/", {"q": "TONER"}).content.decode()
    assert body.lstrip().startswith('<div id="item-results"')
    assert f'value="{item.pk}"' in body


def test_submitting_by_htmx_creates_the_requisition_and_refreshes_the_page(
    org, item, as_user, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(org.tester).post(
            MINE,
            {
                "action": "submit",
                "for_whom": "department",
                "reason": "打印机换硒鼓",
                "line_item": [item.pk],
                "line_quantity": ["2"],
            },
            **HTMX,
        )

    # then
    assert response.status_code == 200
    assert response["HX-Trigger"] == "requisitionsChanged"
    requisition = Requisition.objects.get()
    assert (requisition.requester, requisition.department, requisition.for_department) == (
        org.tester_person,
        org.qa,
        True,
    )
    assert list(requisition.lines.values_list("item_id", "quantity")) == [(item.pk, D("2"))]
    body = response.content.decode()
    assert 'id="requisition-list" class="card" hx-swap-oob="true"' in body
    assert f'data-requisition="{requisition.pk}"' in body


def test_an_invalid_request_gets_the_form_again_and_saves_nothing(org, item, as_user):
    # when: no reason and a quantity of 0
    response = as_user(org.tester).post(
        MINE,
        {
            "action": "submit",
            "for_whom": "me",
            "reason": "",
            "line_item": [item.pk],
            "line_quantity": ["0"],
        },
        **HTMX,
    )

    # then
    body = response.content.decode()
    assert body.lstrip().startswith('<form id="requisition-form"')
    assert "Please give a reason." in body
    assert "The quantity must be greater than zero." in body
    assert not Requisition.objects.exists()


def test_submitting_without_lines_says_so(org, as_user):
    body = (
        as_user(org.tester)
        .post(MINE, {"action": "submit", "for_whom": "me", "reason": "x"}, **HTMX)
        .content.decode()
    )
    assert "Add at least one item." in body
    assert not Requisition.objects.exists()


def test_plain_post_redirects(org, item, as_user):
    response = as_user(org.tester).post(
        MINE,
        {
            "action": "submit",
            "for_whom": "me",
            "reason": "换鼠标",
            "line_item": [item.pk],
            "line_quantity": ["1"],
        },
    )
    assert (response.status_code, response["Location"]) == (302, MINE)
    assert Requisition.objects.get().for_department is False


# --- Detail and cancel ------------------------------------------------------------------------


def test_the_requester_sees_the_detail_with_its_lines(org, item, as_user):
    requisition = approved(org, item, 3)
    response = as_user(org.tester).get(detail_url(requisition))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Requisition #{requisition.pk}" in body
    assert 'data-testid="requisition-line"' in body
    assert 'data-testid="cancel-requisition"' in body
    assert 'data-testid="fulfil-requisition"' not in body


def test_the_detail_htmx_get_is_the_fragment(org, item, as_user):
    requisition = submitted(org, item)
    body = as_user(org.tester).get(detail_url(requisition), **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="requisition-detail"')


def test_the_detail_shows_actions_to_the_head_and_the_keeper(org, item, keeper, warehouse, as_user):
    waiting = submitted(org, item)
    ready = approved(org, item)
    assert (
        'data-testid="decide-requisition"'
        in as_user(org.head).get(detail_url(waiting)).content.decode()
    )
    assert (
        'data-testid="fulfil-requisition"'
        in as_user(keeper).get(detail_url(ready)).content.decode()
    )


@pytest.mark.parametrize("who", ["employee", "other_head"])
def test_someone_elses_requisition_is_404(org, item, as_user, who):
    requisition = submitted(org, item)
    assert as_user(getattr(org, who)).get(detail_url(requisition)).status_code == 404


def test_the_requester_cancels_from_the_detail(org, item, as_user):
    requisition = submitted(org, item)
    url = reverse("inventory:requisition_cancel", args=[requisition.pk])
    response = as_user(org.tester).post(url, {"from": "detail"}, **HTMX)
    assert response.status_code == 200
    assert 'id="requisition-detail" hx-swap-oob="true"' in response.content.decode()
    requisition.refresh_from_db()
    assert requisition.state == State.CANCELLED


def test_cancelling_from_my_list_redirects_without_htmx(org, item, as_user):
    requisition = submitted(org, item)
    url = reverse("inventory:requisition_cancel", args=[requisition.pk])
    response = as_user(org.tester).post(url, {"from": "mine"})
    assert (response.status_code, response["Location"]) == (302, MINE)


def test_cancelling_someone_elses_requisition_is_refused_and_changes_nothing(org, item, as_user):
    requisition = submitted(org, item)
    before = snapshot(requisition)
    url = reverse("inventory:requisition_cancel", args=[requisition.pk])
    assert as_user(org.employee).post(url).status_code == 404
    assert as_user(org.head).post(url).status_code == 403  # sees it, may not cancel it
    assert snapshot(requisition) == before


def test_a_fully_issued_requisition_cannot_be_cancelled(org, stocked, keeper, warehouse, as_user):
    requisition = approved(org, stocked, 2)
    services.requisition_fulfil(requisition=requisition, actor=keeper, warehouse=warehouse)
    before = snapshot(requisition)
    url = reverse("inventory:requisition_cancel", args=[requisition.pk])
    assert as_user(org.tester).post(url).status_code == 403
    assert snapshot(requisition) == before


# --- Approvals --------------------------------------------------------------------------------


def test_the_head_sees_requisitions_of_their_departments_and_below(org, item, as_user):
    # given: 测试部 is below 研发中心 (headed by org.head); 市场部 is not
    ours = submitted(org, item)
    sales = RequisitionFactory(
        requester=org.other_head.person, lines=[(item, 1)], reason="x"
    )  # 市场部

    # when
    response = as_user(org.head).get(APPROVALS)

    # then
    assert response.status_code == 200
    assert [r.pk for r in response.context["page"].object_list] == [ours.pk]
    assert sales.pk not in [r.pk for r in response.context["page"].object_list]
    assert reverse("inventory:requisition_decide", args=[ours.pk]) in response.content.decode()


def test_the_approvals_htmx_get_is_the_fragment(org, item, as_user):
    submitted(org, item)
    body = as_user(org.head).get(APPROVALS, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="approval-list"')


@pytest.mark.parametrize("role", ["employee", "keeper", "auditor", "clerk"])
def test_approvals_are_forbidden_to_other_roles(make_user, as_user, role):
    assert as_user(make_user(role)).get(APPROVALS).status_code == 403


def test_approvals_query_count_does_not_grow(org, as_user, django_assert_max_num_queries):
    items = [ItemFactory() for _ in range(3)]
    for _ in range(2):
        RequisitionFactory(requester=org.tester_person, lines=[(i, 1) for i in items])
    client = as_user(org.head)
    with django_assert_max_num_queries(30) as few:
        client.get(APPROVALS)
    for _ in range(15):
        RequisitionFactory(requester=org.tester_person, lines=[(i, 1) for i in items])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(APPROVALS)
    assert len(response.context["page"].object_list) == 17


def test_the_head_approves_in_a_dialog(org, item, as_user):
    # given
    requisition = submitted(org, item)
    url = reverse("inventory:requisition_decide", args=[requisition.pk])
    client = as_user(org.head)
    assert client.get(url, **HTMX).content.decode().lstrip().startswith("<dialog")

    # when
    response = client.post(url, {"decision": "approve", "comment": ""}, **HTMX)

    # then
    assert response.status_code == 200
    assert response["HX-Trigger"] == "requisitionsChanged"
    assert 'id="approval-list" hx-swap-oob="true"' in response.content.decode()
    requisition.refresh_from_db()
    assert (requisition.state, requisition.decided_by) == (State.APPROVED, org.head)


def test_rejecting_needs_a_comment(org, item, as_user):
    requisition = submitted(org, item)
    url = reverse("inventory:requisition_decide", args=[requisition.pk])
    client = as_user(org.head)

    response = client.post(url, {"decision": "reject", "comment": ""}, **HTMX)
    assert "Please say why you reject it." in response.content.decode()
    assert snapshot(requisition)[0] == State.SUBMITTED

    client.post(f"{url}?from=detail", {"decision": "reject", "comment": "库存紧张"}, **HTMX)
    requisition.refresh_from_db()
    assert (requisition.state, requisition.comment) == (State.REJECTED, "库存紧张")


def test_another_head_cannot_decide_and_nothing_changes(org, item, as_user):
    requisition = submitted(org, item)
    before = snapshot(requisition)
    url = reverse("inventory:requisition_decide", args=[requisition.pk])
    client = as_user(org.other_head)
    assert client.get(url).status_code == 404
    assert client.post(url, {"decision": "approve"}).status_code == 404
    assert as_user(org.tester).post(url, {"decision": "approve"}).status_code == 404
    assert snapshot(requisition) == before


# --- The keeper's queue -----------------------------------------------------------------------


def test_the_queue_lists_what_the_keepers_warehouses_can_issue(
    org, stocked, keeper, warehouse, as_user
):
    # given: toner is stocked in the keeper's warehouse; a cable only elsewhere
    ours = approved(org, stocked)
    cable = ItemFactory(name="网线")
    elsewhere = WarehouseFactory()
    services.document_create_and_post(
        actor=None,
        type="receipt",
        warehouse=elsewhere,
        lines=[{"item": cable, "quantity": 5, "unit_cost": "3.00"}],
    )
    theirs = approved(org, cable)
    submitted(org, stocked)  # not approved yet

    # when
    client = as_user(keeper)
    response = client.get(QUEUE)
    everything = client.get(QUEUE, {"all": "1"})

    # then
    assert response.status_code == 200
    assert [r.pk for r in response.context["page"].object_list] == [ours.pk]
    assert [r.pk for r in everything.context["page"].object_list] == [ours.pk, theirs.pk]
    body = response.content.decode()
    assert fulfil_url(ours) in body
    assert "（available 10）" in body


def test_the_queue_htmx_get_is_the_fragment(org, stocked, keeper, as_user):
    approved(org, stocked)
    body = as_user(keeper).get(QUEUE, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="requisition-queue"')


@pytest.mark.parametrize("role", ["employee", "dept_head", "clerk", "auditor", "keeper"])
def test_the_queue_is_forbidden_to_others_and_to_keepers_without_a_warehouse(
    make_user, as_user, role
):
    assert as_user(make_user(role)).get(QUEUE).status_code == 403


def test_the_queue_query_count_does_not_grow(
    org, stocked, keeper, as_user, django_assert_max_num_queries
):
    items = [stocked, ItemFactory(), ItemFactory()]
    for _ in range(2):
        RequisitionFactory(
            requester=org.tester_person, approved=True, lines=[(i, 1) for i in items]
        )
    client = as_user(keeper)
    with django_assert_max_num_queries(30) as few:
        client.get(QUEUE)
    for _ in range(15):
        RequisitionFactory(
            requester=org.tester_person, approved=True, lines=[(i, 1) for i in items]
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(QUEUE)
    assert len(response.context["page"].object_list) == 17


# --- Fulfilment -------------------------------------------------------------------------------


def fulfil_post(client, requisition, warehouse, action, key="k-1", **fields):
    data = {"action": action, "warehouse": warehouse.pk, "idempotency_key": key, "reason": ""}
    data.update(fields)
    return client.post(fulfil_url(requisition), data, **HTMX)


def line_field(requisition, item):
    return f"issue_{RequisitionLine.objects.get(requisition=requisition, item=item).pk}"


def test_the_fulfil_page_offers_the_keepers_warehouses(org, stocked, keeper, warehouse, as_user):
    requisition = approved(org, stocked)
    response = as_user(keeper).get(fulfil_url(requisition))
    assert response.status_code == 200
    assert response.context["warehouse"] == warehouse
    assert list(response.context["form"].fields["warehouse"].queryset) == [warehouse]
    body = response.content.decode()
    assert 'data-testid="scan"' in body
    assert response.context["form"]["idempotency_key"].value()


def test_the_fulfil_htmx_post_answers_the_form_fragment(org, stocked, keeper, warehouse, as_user):
    requisition = approved(org, stocked)
    body = fulfil_post(as_user(keeper), requisition, warehouse, "refresh").content.decode()
    assert body.lstrip().startswith('<form id="fulfil-form"')


def test_scanning_the_barcode_counts_one_more_each_time(org, stocked, keeper, warehouse, as_user):
    # given
    requisition = approved(org, stocked, 2)
    client = as_user(keeper)
    field = line_field(requisition, stocked)
    before = snapshot(requisition)

    # when: scanned once, then again with the count the page holds
    first = fulfil_post(client, requisition, warehouse, "scan", scan=stocked.barcode)
    second = fulfil_post(
        client, requisition, warehouse, "scan", scan=stocked.barcode, **{field: "1"}
    )

    # then
    assert f'name="{field}" value="1"' in first.content.decode()
    assert f'name="{field}" value="2"' in second.content.decode()
    assert 'name="scan" id="id_scan" class="form-control" value=""' in second.content.decode()
    assert snapshot(requisition) == before  # counting posts nothing


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("0000000000000", "Unknown barcode “0000000000000”: no item has this barcode or code"),
        ("OTHER", "is not on this requisition; nothing was changed."),
    ],
)
def test_a_wrong_scan_is_refused_and_changes_nothing(
    org, stocked, keeper, warehouse, as_user, code, message
):
    ItemFactory(code="OTHER")
    requisition = approved(org, stocked, 2)
    field = line_field(requisition, stocked)
    before = snapshot(requisition)

    body = fulfil_post(
        as_user(keeper), requisition, warehouse, "scan", scan=code, **{field: "1"}
    ).content.decode()

    assert message in body
    assert f'name="{field}" value="1"' in body  # the count stays
    assert snapshot(requisition) == before


def test_scanning_more_than_remains_is_refused(org, stocked, keeper, warehouse, as_user):
    requisition = approved(org, stocked, 2)
    field = line_field(requisition, stocked)
    body = fulfil_post(
        as_user(keeper), requisition, warehouse, "scan", scan=stocked.barcode, **{field: "2"}
    ).content.decode()
    assert "still to issue are counted already; nothing was changed." in body
    assert f'name="{field}" value="2"' in body


def test_issuing_part_then_the_rest(org, stocked, keeper, warehouse, as_user):
    # given
    requisition = approved(org, stocked, 3)
    field = line_field(requisition, stocked)
    client = as_user(keeper)

    # when: 1 now (htmx: the browser is sent to the requisition)
    response = fulfil_post(client, requisition, warehouse, "issue", key="a", **{field: "1"})

    # then
    assert response["HX-Redirect"] == detail_url(requisition)
    requisition.refresh_from_db()
    assert requisition.state == State.PARTLY_ISSUED
    assert balance(stocked, warehouse)[0] == D("9")

    # when: the rest, without JavaScript
    response = client.post(
        fulfil_url(requisition),
        {"action": "issue", "warehouse": warehouse.pk, "idempotency_key": "b", field: "2"},
    )

    # then
    assert (response.status_code, response["Location"]) == (302, detail_url(requisition))
    requisition.refresh_from_db()
    assert requisition.state == State.FULLY_ISSUED
    assert balance(stocked, warehouse) == (D("7"), D("560.00"), D("80.0000"))
    issue = Document.objects.filter(requisition=requisition).order_by("id")
    assert [(d.type, d.status, d.person_id) for d in issue] == [
        ("issue", "posted", org.tester_person.pk)
    ] * 2


def test_fill_puts_what_remains_on_every_line(org, stocked, keeper, warehouse, as_user):
    requisition = approved(org, stocked, 3)
    field = line_field(requisition, stocked)
    body = fulfil_post(as_user(keeper), requisition, warehouse, "fill").content.decode()
    assert f'name="{field}" value="3"' in body


def test_a_shortage_names_item_warehouse_and_quantities_and_changes_nothing(
    org, stocked, keeper, warehouse, as_user
):
    # given: 12 approved, 10 in stock
    requisition = approved(org, stocked, 12)
    field = line_field(requisition, stocked)
    before = snapshot(requisition)

    # when
    body = fulfil_post(
        as_user(keeper), requisition, warehouse, "issue", **{field: "12"}
    ).content.decode()

    # then
    assert f"Not enough stock of {stocked} in {warehouse}: 10盒 available, 12盒 requested." in body
    assert snapshot(requisition) == before
    assert balance(stocked, warehouse)[0] == D("10")


def test_nothing_to_issue_is_refused(org, stocked, keeper, warehouse, as_user):
    requisition = approved(org, stocked, 2)
    before = snapshot(requisition)
    body = fulfil_post(as_user(keeper), requisition, warehouse, "issue").content.decode()
    assert "Enter how many to issue on at least one line." in body
    assert snapshot(requisition) == before


@pytest.mark.parametrize("value", ["-1", "abc", "1.5"])
def test_a_bad_quantity_is_refused_on_its_line(org, stocked, keeper, warehouse, as_user, value):
    requisition = approved(org, stocked, 2)
    field = line_field(requisition, stocked)
    before = snapshot(requisition)
    response = fulfil_post(as_user(keeper), requisition, warehouse, "issue", **{field: value})
    assert response.status_code == 200
    assert 'class="invalid-feedback d-block"' in response.content.decode()
    assert snapshot(requisition) == before


def test_a_keeper_cannot_issue_from_a_warehouse_they_do_not_keep(
    org, stocked, keeper, warehouse, as_user
):
    # given: another warehouse holds toner too, kept by someone else
    other = WarehouseFactory()
    services.document_create_and_post(
        actor=None,
        type="receipt",
        warehouse=other,
        lines=[{"item": stocked, "quantity": 5, "unit_cost": "80.00"}],
    )
    requisition = approved(org, stocked, 2)
    field = line_field(requisition, stocked)
    before = snapshot(requisition)

    # when
    body = fulfil_post(
        as_user(keeper), requisition, other, "issue", **{field: "2"}
    ).content.decode()

    # then
    assert "You can only issue from a warehouse you keep." in body
    assert snapshot(requisition) == before
    assert balance(stocked, other)[0] == D("5")


@pytest.mark.parametrize("who", ["tester", "head", "clerk"])
def test_only_keepers_open_the_fulfil_page(org, stocked, warehouse, as_user, who):
    requisition = approved(org, stocked, 2)
    field = line_field(requisition, stocked)
    before = snapshot(requisition)
    client = as_user(getattr(org, who))
    assert client.get(fulfil_url(requisition)).status_code == 403
    assert fulfil_post(client, requisition, warehouse, "issue", **{field: "1"}).status_code == 403
    assert snapshot(requisition) == before


def test_a_requisition_not_approved_cannot_be_fulfilled(org, stocked, keeper, as_user):
    requisition = submitted(org, stocked)
    assert as_user(keeper).get(fulfil_url(requisition)).status_code == 404


def test_a_double_submit_issues_once(org, stocked, keeper, warehouse, as_user):
    requisition = approved(org, stocked, 2)
    field = line_field(requisition, stocked)
    client = as_user(keeper)

    fulfil_post(client, requisition, warehouse, "issue", key="same", **{field: "1"})
    second = client.post(
        fulfil_url(requisition),
        {"action": "issue", "warehouse": warehouse.pk, "idempotency_key": "same", field: "1"},
        follow=True,
    )

    assert "is already posted; nothing was changed." in second.content.decode()
    assert Document.objects.filter(requisition=requisition).count() == 1
    assert balance(stocked, warehouse)[0] == D("9")


def test_a_double_submit_of_the_issue_that_closed_it_answers_like_the_first(
    org, stocked, keeper, warehouse, as_user
):
    requisition = approved(org, stocked, 2)
    field = line_field(requisition, stocked)
    client = as_user(keeper)
    data = {"action": "issue", "warehouse": warehouse.pk, "idempotency_key": "once", field: "2"}

    client.post(fulfil_url(requisition), data)
    before = snapshot(requisition)
    second = client.post(fulfil_url(requisition), data, follow=True)

    assert "is already posted; nothing was changed." in second.content.decode()
    assert snapshot(requisition) == before
    assert before[0] == State.FULLY_ISSUED
    assert (
        client.post(fulfil_url(requisition), {**data, "idempotency_key": "new"}).status_code == 302
    )
    assert snapshot(requisition) == before


# --- Navigation -------------------------------------------------------------------------------


def nav_urls(client):
    return {item["url"] for item in client.get("/").context["nav_items"]}


def test_navigation_entries_per_role(org, keeper, warehouse, as_user):
    employee = nav_urls(as_user(org.tester))
    head = nav_urls(as_user(org.head))
    keeper_nav = nav_urls(as_user(keeper))
    lone = nav_urls(as_user(org.lone))

    assert MINE in employee and APPROVALS not in employee and QUEUE not in employee
    assert {MINE, APPROVALS} <= head and QUEUE not in head
    assert QUEUE in keeper_nav and MINE not in keeper_nav  # no staff record
    assert MINE not in lone
