"""我的资产: what I hold, confirming receipt, requesting a return, reporting a fault; the
clerks' list of unconfirmed assignments and return requests; the navigation entries."""

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from assets.lifecycle import Status
from assets.models import AssetEvent, Handover, RepairOrder
from assets.selectors_workflow import RETURN_REQUESTED
from assets.services import asset_return_request, asset_transition, repair_report

from .org import make_org

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
URL = "/me/assets/"


@pytest.fixture
def org(make_user):
    return make_org(make_user)


def assign(org, asset, person=None):
    """Assign through the lifecycle service: a handover receipt waiting for confirmation."""
    event = asset_transition(
        asset=asset,
        transition="assign",
        actor=org.clerk,
        data={"holder": person or org.employee_person},
    )
    return event.handover


# --- 我的资产 ---------------------------------------------------------------------------------


def test_my_assets_shows_only_mine_with_due_dates_and_overdue(org, client_as):
    # given
    today = timezone.localdate()
    overdue = org.asset(
        on_loan=True, holder=org.employee_person, due_date=today - datetime.timedelta(days=1)
    )
    due_later = org.asset(
        assigned=True, holder=org.employee_person, due_date=today + datetime.timedelta(days=9)
    )
    someone_elses = org.asset(assigned=True, holder=org.tester_person)
    # when
    response = client_as(user=org.employee).get(URL)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    assert [a.tag for a in response.context["mine"].assets] == [overdue.tag, due_later.tag]
    assert someone_elses.tag not in body
    row = re.search(rf'<tr data-testid="my-asset" data-tag="{overdue.tag}"[^>]*>', body).group(0)
    assert 'class="table-danger"' in row
    assert body.count('data-testid="overdue"') == 1
    assert (today + datetime.timedelta(days=9)).isoformat() in body
    assert reverse("me:return_request", args=[due_later.tag]) in body
    assert reverse("me:fault_report", args=[due_later.tag]) in body


def test_my_assets_htmx_get_is_the_fragment(org, client_as):
    org.asset(assigned=True, holder=org.employee_person)
    body = client_as(user=org.employee).get(URL, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="my-assets"')
    assert "<html" not in body


@pytest.mark.parametrize("count", [2, 20])
def test_my_assets_query_count_is_constant(org, client, count, django_assert_max_num_queries):
    # given: assets with fault reports and return requests, and a receipt to confirm
    assets = [org.asset(assigned=True, holder=org.employee_person) for _ in range(count)]
    for asset in assets[::2]:
        RepairOrder.objects.create(number=f"WX-T-{asset.pk}", asset=asset, fault="坏了")
        AssetEvent.objects.create(
            asset=asset,
            transition=RETURN_REQUESTED,
            from_status=Status.IN_USE,
            to_status=Status.IN_USE,
        )
    assign(org, org.asset())
    client.force_login(org.employee)
    # when / then: the same bound for 2 and for 20 assets
    with django_assert_max_num_queries(10):
        response = client.get(URL)
    assert len(response.context["mine"].assets) == count + 1
    assert len(response.context["mine"].handovers) == 1


def test_a_user_without_a_staff_record_gets_403(org, client_as):
    assert client_as(user=org.lone).get(URL).status_code == 403


@pytest.mark.parametrize("role", ["clerk", "auditor"])
def test_roles_without_a_staff_record_get_403(client_as, role):
    assert client_as(role).get(URL).status_code == 403


# --- Confirming receipt -----------------------------------------------------------------------


def test_employee_confirms_receipt_of_a_new_assignment(org, client_as):
    # given
    asset = org.asset()
    handover = assign(org, asset)
    client = client_as(user=org.employee)
    page = client.get(URL).content.decode()
    assert handover.number in page
    # when
    response = client.post(reverse("me:handover_accept", args=[handover.pk]), **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "myAssetsChanged"
    assert '<div id="my-assets" hx-swap-oob="true">' in body
    assert 'data-testid="pending-handovers"' not in body
    handover.refresh_from_db()
    assert handover.accepted_by == org.employee
    assert handover.accepted_at is not None


def test_confirming_twice_shows_a_message_and_changes_nothing(org, client_as):
    # given
    handover = assign(org, org.asset())
    client = client_as(user=org.employee)
    client.cookies["django_language"] = "en"
    url = reverse("me:handover_accept", args=[handover.pk])
    client.post(url)
    handover.refresh_from_db()
    first = handover.accepted_at
    # when
    response = client.post(url, **HTMX)
    # then
    assert response.status_code == 200
    assert "already confirmed" in response.content.decode()
    handover.refresh_from_db()
    assert handover.accepted_at == first


def test_someone_elses_handover_is_404(org, client_as):
    handover = assign(org, org.asset())
    response = client_as(user=org.tester).post(reverse("me:handover_accept", args=[handover.pk]))
    assert response.status_code == 404
    handover.refresh_from_db()
    assert handover.accepted_at is None


# --- Return requests --------------------------------------------------------------------------


@pytest.mark.usefixtures("english")
def test_holder_requests_a_return(org):
    # given
    asset = org.asset(assigned=True, holder=org.employee_person)
    # when
    event = asset_return_request(actor=org.employee, asset=asset, note="下周一交回")
    # then
    assert (event.transition, event.from_status, event.to_status, event.actor, event.note) == (
        RETURN_REQUESTED,
        Status.IN_USE,
        Status.IN_USE,
        org.employee,
        "下周一交回",
    )
    asset.refresh_from_db()
    assert (asset.status, asset.holder) == (Status.IN_USE, org.employee_person)
    with pytest.raises(ValidationError, match="already asked"):
        asset_return_request(actor=org.employee, asset=asset, note="")
    assert asset.events.count() == 1


def test_only_the_holder_requests_a_return(org):
    asset = org.asset(assigned=True, holder=org.employee_person)
    for user in (org.tester, org.clerk, org.head):
        with pytest.raises(PermissionDenied):
            asset_return_request(actor=user, asset=asset, note="")
    assert not asset.events.exists()


def test_return_request_by_dialog_then_the_clerk_sees_it(org, client_as, client):
    # given
    asset = org.asset(assigned=True, holder=org.employee_person)
    url = reverse("me:return_request", args=[asset.tag])
    employee = client_as(user=org.employee)
    assert employee.get(url, **HTMX).content.decode().lstrip().startswith("<dialog")
    # when
    response = employee.post(url, {"note": "离职交接"}, **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="return-requested"' in body
    client.force_login(org.clerk)
    clerk_page = client.get(reverse("assets:unconfirmed"))
    assert [e.asset_id for e in clerk_page.context["returns"]] == [asset.pk]
    assert "离职交接" in clerk_page.content.decode()
    # and once the clerk takes it back, the request is closed
    asset_transition(asset=asset, transition="return", actor=org.clerk, data={})
    assert client.get(reverse("assets:unconfirmed")).context["returns"] == []


def test_return_request_of_an_asset_i_do_not_hold_is_404(org, client_as):
    asset = org.asset(assigned=True, holder=org.tester_person)
    response = client_as(user=org.employee).post(
        reverse("me:return_request", args=[asset.tag]), {"note": ""}
    )
    assert response.status_code == 404
    assert not asset.events.exists()


# --- Fault reports ----------------------------------------------------------------------------


@pytest.mark.usefixtures("english")
def test_holder_reports_a_fault(org):
    # given
    asset = org.asset(assigned=True, holder=org.employee_person)
    # when
    order = repair_report(actor=org.employee, asset=asset, fault="屏幕闪烁")
    # then
    assert re.fullmatch(rf"WX-{timezone.localdate():%Y%m%d}-\d{{4}}", order.number)
    assert (order.asset, order.state, order.fault, order.reported_by) == (
        asset,
        RepairOrder.State.REQUESTED,
        "屏幕闪烁",
        org.employee,
    )
    asset.refresh_from_db()
    assert asset.status == Status.IN_USE
    with pytest.raises(ValidationError, match="already been reported"):
        repair_report(actor=org.employee, asset=asset, fault="还是闪烁")
    assert RepairOrder.objects.count() == 1


def test_repair_numbers_count_up(org):
    first = repair_report(
        actor=org.employee, asset=org.asset(assigned=True, holder=org.employee_person), fault="a"
    )
    second = repair_report(
        actor=org.employee, asset=org.asset(assigned=True, holder=org.employee_person), fault="b"
    )
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1


def test_only_the_holder_reports_a_fault_of_a_held_asset(org):
    asset = org.asset(assigned=True, holder=org.employee_person)
    with pytest.raises(PermissionDenied):
        repair_report(actor=org.tester, asset=asset, fault="坏了")
    in_stock = org.asset()
    with pytest.raises(PermissionDenied):
        repair_report(actor=org.employee, asset=in_stock, fault="坏了")
    with pytest.raises(ValidationError):
        repair_report(actor=org.employee, asset=asset, fault="  ")
    assert not RepairOrder.objects.exists()


def test_the_clerk_takes_over_the_reported_fault_when_sending_to_repair(org):
    # given
    asset = org.asset(assigned=True, holder=org.employee_person)
    order = repair_report(actor=org.employee, asset=asset, fault="键盘失灵")
    # when
    asset_transition(
        asset=asset, transition="send_to_repair", actor=org.clerk, data={"repair_order": order}
    )
    # then
    order.refresh_from_db()
    assert order.state == RepairOrder.State.IN_REPAIR
    assert RepairOrder.objects.count() == 1


def test_fault_report_by_dialog(org, client_as):
    # given
    asset = org.asset(assigned=True, holder=org.employee_person)
    url = reverse("me:fault_report", args=[asset.tag])
    client = client_as(user=org.employee)
    # when
    invalid = client.post(url, {"fault": ""}, **HTMX)
    valid = client.post(url, {"fault": "无法开机"}, **HTMX)
    # then
    assert invalid.content.decode().lstrip().startswith("<dialog")
    assert "is-invalid" in invalid.content.decode()
    assert valid.status_code == 200
    assert 'data-testid="fault-reported"' in valid.content.decode()
    assert RepairOrder.objects.get().fault == "无法开机"


def test_fault_report_plain_post_redirects(org, client_as):
    asset = org.asset(assigned=True, holder=org.employee_person)
    response = client_as(user=org.employee).post(
        reverse("me:fault_report", args=[asset.tag]), {"fault": "无法开机"}
    )
    assert response.status_code == 302
    assert response["Location"] == URL


def test_fault_report_of_an_asset_i_do_not_hold_is_404(org, client_as):
    asset = org.asset(assigned=True, holder=org.tester_person)
    url = reverse("me:fault_report", args=[asset.tag])
    client = client_as(user=org.employee)
    assert client.get(url).status_code == 404
    assert client.post(url, {"fault": "坏了"}).status_code == 404
    assert not RepairOrder.objects.exists()


# --- Unconfirmed assignments (clerks) ---------------------------------------------------------

UNCONFIRMED = "/assets/unconfirmed/"


def test_unconfirmed_assignments_older_than_n_days(org, client_as, settings):
    # given
    settings.ASSIGNMENT_CONFIRM_DAYS = 3
    old = assign(org, org.asset())
    recent = assign(org, org.asset(), person=org.tester_person)
    confirmed = assign(org, org.asset(), person=org.head_person)
    Handover.objects.filter(pk__in=[old.pk, confirmed.pk]).update(
        created_at=timezone.now() - datetime.timedelta(days=4)
    )
    Handover.objects.filter(pk=confirmed.pk).update(
        accepted_at=timezone.now(), accepted_by=org.head
    )
    # when
    response = client_as(user=org.clerk).get(UNCONFIRMED)
    # then
    assert response.status_code == 200
    assert [h.pk for h in response.context["handovers"]] == [old.pk]
    body = response.content.decode()
    assert old.number in body
    assert recent.number not in body and confirmed.number not in body


def test_unconfirmed_htmx_get_is_the_fragment(client_as):
    body = client_as("clerk").get(UNCONFIRMED, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="unconfirmed"')


@pytest.mark.parametrize("role", ["employee", "dept_head", "auditor"])
def test_unconfirmed_is_for_clerks(client_as, role):
    assert client_as(role).get(UNCONFIRMED).status_code == 403


# --- Navigation -------------------------------------------------------------------------------


def nav_urls(client):
    return {item["url"] for item in client.get("/").context["nav_items"]}


def test_navigation_entries_per_role(org, client):
    # given
    mine = {"/me/assets/", "/me/requests/"}
    handling = {"/approvals/", "/requests/"}
    # when
    client.force_login(org.employee)
    employee = nav_urls(client)
    client.force_login(org.head)
    head = nav_urls(client)
    client.force_login(org.clerk)
    clerk = nav_urls(client)
    # then
    assert mine <= employee and not handling & employee
    assert mine | handling <= head
    assert handling <= clerk and not mine & clerk  # the clerk has no staff record
