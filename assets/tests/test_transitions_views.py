"""Transition pages: the form as a page and as an htmx dialog, running it (htmx and plain),
errors, roles and data scope; the buttons and the lifecycle timeline on the detail page;
bulk transitions from the list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from assets.lifecycle import Status
from assets.models import ApprovalRequest, Asset, AssetEvent, Attachment, Handover
from assets.services import asset_transition

from .factories import (
    ApprovalRequestFactory,
    AssetFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
    RepairOrderFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
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


def url(asset, name):
    return reverse("assets:transition", args=[asset.tag, name])


# --- The form ---------------------------------------------------------------------------------


def test_get_shows_the_form_as_a_full_page(client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    response = client.get(url(asset, "assign"))
    body = response.content.decode()
    assert response.status_code == 200
    assert response.templates[0].name == "assets/asset_transition.html"
    assert "<html" in body
    assert 'name="holder"' in body and 'name="due_date"' in body and 'name="note"' in body
    assert "<dialog" not in body


def test_htmx_get_is_a_dialog_fragment(client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    response = client.get(url(asset, "loan"), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith("<dialog")
    assert "<html" not in body
    assert f'hx-post="{url(asset, "loan")}"' in body
    assert 'hx-encoding="multipart/form-data"' in body


def test_a_transition_not_possible_now_is_shown_but_cannot_be_submitted(client_as):
    client = client_as("clerk")
    asset = AssetFactory(disposed=True)
    response = client.get(url(asset, "assign"))
    body = response.content.decode()
    assert 'data-testid="transition-blocked"' in body
    assert 'data-testid="submit-transition" disabled' in body


def test_send_to_repair_offers_the_reported_faults(client_as):
    client = client_as("clerk")
    asset = AssetFactory(assigned=True)
    order = RepairOrderFactory(asset=asset, fault="电池鼓包")
    response = client.get(url(asset, "send_to_repair"))
    assert response.status_code == 200
    assert (
        f'<option value="{order.pk}">{order.number} · 电池鼓包</option>'
        in response.content.decode()
    )


# --- Running it -------------------------------------------------------------------------------


def test_htmx_post_valid_swaps_the_detail_and_triggers_asset_changed(client_as):
    # given
    client = client_as("clerk")
    person = PersonFactory(name="张三")
    asset = AssetFactory()
    # when
    response = client.post(url(asset, "assign"), {"holder": person.pk, "note": "入职领用"}, **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "assetChanged"
    assert 'id="asset-detail" hx-swap-oob="true"' in body
    assert 'data-testid="lifecycle"' in body
    assert "入职领用" in body
    asset.refresh_from_db()
    assert (asset.status, asset.holder) == (Status.IN_USE, person)
    assert AssetEvent.objects.filter(asset=asset).count() == 1


def test_htmx_post_invalid_returns_the_dialog_with_errors_and_changes_nothing(client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    # when: a loan without borrower, due yesterday
    response = client.post(url(asset, "loan"), {"due_date": past}, **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith("<dialog")
    assert body.count("invalid-feedback") == 2
    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK
    assert AssetEvent.objects.count() == 0


def test_a_service_error_lands_on_the_form(client_as):
    # given: the asset was assigned by someone else since the form was opened
    client = client_as("clerk")
    asset = AssetFactory(assigned=True, holder=PersonFactory())
    # when
    response = client.post(url(asset, "assign"), {"holder": PersonFactory().pk}, **HTMX)
    # then
    body = response.content.decode()
    assert 'data-testid="form-errors"' in body
    assert AssetEvent.objects.count() == 0


def test_plain_post_redirects_to_the_asset(client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    today = timezone.localdate().isoformat()
    response = client.post(url(asset, "send_to_repair"), {"fault": "无法开机", "sent_on": today})
    assert response.status_code == 302
    assert response["Location"] == asset.get_absolute_url()
    asset.refresh_from_db()
    assert asset.status == Status.IN_REPAIR


def test_plain_post_invalid_shows_the_page_again(client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    response = client.post(url(asset, "send_to_repair"), {"fault": "无法开机", "sent_on": ""})
    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert response.context["form"].errors.keys() == {"sent_on"}
    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK


def test_dispose_with_a_certificate_upload(client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory(pending_disposal=True)
    ApprovalRequestFactory(asset=asset, approved=True)
    # when
    response = client.post(
        url(asset, "dispose"),
        {
            "method": "destruction",
            "disposed_on": timezone.localdate().isoformat(),
            "certificate": SimpleUploadedFile("证明.pdf", PDF, "application/pdf"),
        },
        **HTMX,
    )
    # then
    assert response.status_code == 200
    assert response["HX-Trigger"] == "assetChanged"
    asset.refresh_from_db()
    assert asset.status == Status.DISPOSED
    assert Attachment.objects.get(asset=asset).original_name == "证明.pdf"


def test_sale_needs_proceeds(client_as):
    client = client_as("clerk")
    asset = AssetFactory(pending_disposal=True)
    ApprovalRequestFactory(asset=asset, approved=True)
    response = client.post(
        url(asset, "dispose"),
        {"method": "sale", "disposed_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"proceeds"}
    asset.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL


# --- Roles and scope --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_auditor_gets_403(client_as, method):
    client = client_as("auditor")
    asset = AssetFactory()
    response = getattr(client, method)(url(asset, "assign"), {"holder": PersonFactory().pk})
    assert response.status_code == 403
    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK


def test_employee_gets_403_on_their_own_asset_and_404_on_others(client_as):
    client = client_as("employee")
    me = PersonFactory(user=client.user)
    mine = AssetFactory(assigned=True, holder=me)
    theirs = AssetFactory(assigned=True, holder=PersonFactory())
    assert client.get(url(mine, "return")).status_code == 403
    assert client.post(url(theirs, "return"), {}).status_code == 404
    assert AssetEvent.objects.count() == 0


def test_department_head_out_of_scope_gets_404(client_as):
    client = client_as("dept_head")
    asset = AssetFactory(department=DepartmentFactory())
    assert client.get(url(asset, "assign")).status_code == 404


def test_anonymous_is_sent_to_login(client):
    asset = AssetFactory()
    response = client.get(url(asset, "assign"))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize("name", ["teleport", "reject_disposal"])
def test_unknown_and_internal_transitions_are_404(client_as, name):
    client = client_as("clerk")
    asset = AssetFactory(pending_disposal=True)
    assert client.get(url(asset, name)).status_code == 404


# --- Approval transitions ---------------------------------------------------------------------


def test_request_disposal_goes_through_an_approval(client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    # when
    response = client.post(url(asset, "request_disposal"), {"reason": "超过使用年限"}, **HTMX)
    # then: pending disposal at once, with a pending approval
    assert response.status_code == 200
    asset.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL
    approval = ApprovalRequest.objects.get(asset=asset)
    assert (approval.transition, approval.state, approval.reason) == (
        "request_disposal",
        ApprovalRequest.State.PENDING,
        "超过使用年限",
    )
    event = AssetEvent.objects.get(asset=asset)
    assert event.payload["approval"] == {"id": approval.pk}


def test_report_lost_only_requests_approval(client_as):
    client = client_as("clerk")
    asset = AssetFactory(assigned=True)
    response = client.post(url(asset, "report_lost"), {"note": "出差途中遗失"})
    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.status == Status.IN_USE
    assert ApprovalRequest.objects.get(asset=asset).transition == "report_lost"


def test_report_lost_needs_the_circumstances(client_as):
    client = client_as("clerk")
    asset = AssetFactory(assigned=True)
    response = client.post(url(asset, "report_lost"), {"note": ""})
    assert response.status_code == 200
    assert "note" in response.context["form"].errors
    assert ApprovalRequest.objects.count() == 0


# --- Detail page ------------------------------------------------------------------------------


def test_detail_shows_the_buttons_the_user_may_use(client_as):
    asset = AssetFactory()
    body = client_as("clerk").get(asset.get_absolute_url()).content.decode()
    for name in ("assign", "loan", "send_to_repair", "request_disposal", "report_lost"):
        assert f'data-testid="transition-{name}"' in body
    assert 'data-testid="transition-return"' not in body  # not from in stock
    assert 'id="dialog-slot"' in body


@pytest.mark.parametrize("role", ["auditor", "employee", "dept_head"])
def test_detail_shows_no_buttons_to_other_roles(client_as, role):
    client = client_as(role)
    person = PersonFactory(user=client.user)
    asset = AssetFactory(assigned=True, holder=person)
    body = client.get(asset.get_absolute_url()).content.decode()
    assert 'data-testid="transitions"' not in body


def test_dispose_button_only_after_approval(client_as):
    client = client_as("clerk")
    asset = AssetFactory(pending_disposal=True)
    approval = ApprovalRequestFactory(asset=asset)
    assert (
        'data-testid="transition-dispose"'
        not in client.get(asset.get_absolute_url()).content.decode()
    )
    ApprovalRequest.objects.filter(pk=approval.pk).update(state=ApprovalRequest.State.APPROVED)
    assert (
        'data-testid="transition-dispose"' in client.get(asset.get_absolute_url()).content.decode()
    )


def test_detail_timeline_shows_actor_states_note_and_handover(client_as):
    # given
    client = client_as("clerk")
    client.user.first_name, client.user.last_name = "管理员", "周"
    client.user.save()
    asset = AssetFactory()
    event = asset_transition(
        asset=asset,
        transition="assign",
        actor=client.user,
        note="新员工",
        data={"holder": PersonFactory(name="孙八")},
    )
    # when
    body = client.get(asset.get_absolute_url()).content.decode()
    # then
    assert 'data-testid="event-assign"' in body
    assert client.user.get_full_name() in body
    assert "新员工" in body and "孙八" in body
    assert reverse("assets:handover_pdf", args=[event.handover.pk]) in body
    assert event.handover.number in body


def test_detail_query_count_does_not_grow_with_events(client_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_as("clerk")
    store = LocationFactory(warehouse=True)
    short, long = AssetFactory(), AssetFactory()
    for asset, rounds in ((short, 1), (long, 6)):
        for _ in range(rounds):
            asset_transition(
                asset=asset,
                transition="assign",
                actor=client.user,
                data={"holder": PersonFactory()},
            )
            asset_transition(
                asset=asset, transition="return", actor=client.user, data={"location": store}
            )
    client.get(short.get_absolute_url())  # warm caches

    def count(asset):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(asset.get_absolute_url()).status_code == 200
        return len(ctx.captured_queries)

    assert count(short) == count(long)


# --- Bulk -------------------------------------------------------------------------------------


def bulk_url(name):
    return reverse("assets:bulk", args=[name])


def test_bulk_from_the_list_shows_the_selection_and_the_form(client_as):
    client = client_as("clerk")
    assets = AssetFactory.create_batch(2)
    # the list's selection form posts the tags (and its label format) without "confirm"
    response = client.post(bulk_url("assign"), {"tags": [a.tag for a in assets], "format": "50x30"})
    body = response.content.decode()
    assert response.status_code == 200
    assert all(a.tag in body for a in assets)
    assert 'name="confirm"' in body and 'name="holder"' in body
    assert AssetEvent.objects.count() == 0


def test_bulk_confirm_runs_all_and_redirects_to_the_list(client_as):
    client = client_as("clerk")
    assets = AssetFactory.create_batch(3)
    person = PersonFactory()
    response = client.post(
        bulk_url("assign"), {"tags": [a.tag for a in assets], "confirm": "1", "holder": person.pk}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("assets:list")
    assert set(Asset.objects.values_list("status", "holder")) == {(Status.IN_USE, person.pk)}
    assert Handover.objects.count() == 1


def test_bulk_htmx_success_redirects_the_client(client_as):
    client = client_as("clerk")
    assets = AssetFactory.create_batch(2)
    response = client.post(
        bulk_url("send_to_repair"),
        {
            "tags": [a.tag for a in assets],
            "confirm": "1",
            "fault": "统一检修",
            "sent_on": timezone.localdate().isoformat(),
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("assets:list")


def test_bulk_failure_lists_each_asset_and_changes_nothing(client_as):
    # given
    client = client_as("clerk")
    ok = AssetFactory()
    busy = AssetFactory(assigned=True, holder=PersonFactory())
    store = LocationFactory(warehouse=True)
    # when: return both (the in-stock one cannot be returned)
    response = client.post(
        bulk_url("return"), {"tags": [ok.tag, busy.tag], "confirm": "1", "location": store.pk}
    )
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="bulk-errors"' in body
    assert response.context["errors"].keys() == {ok.tag}
    busy.refresh_from_db()
    assert (busy.status, busy.holder_id) != (Status.IN_STOCK, None)
    assert AssetEvent.objects.count() == 0


def test_bulk_tags_out_of_scope_are_errors(client_as):
    client = client_as("dept_head")
    # a dept head has no assign permission: 403 first
    assert client.post(bulk_url("assign"), {"tags": ["X"]}).status_code == 403


def test_bulk_unknown_tags_are_listed(client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    response = client.post(
        bulk_url("assign"),
        {"tags": [asset.tag, "NO-SUCH-TAG"], "confirm": "1", "holder": PersonFactory().pk},
    )
    assert response.status_code == 200
    assert "NO-SUCH-TAG" in response.context["errors"]
    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK


@pytest.mark.parametrize("role", ["auditor", "employee"])
def test_bulk_wrong_role_403(client_as, role):
    client = client_as(role)
    assert client.post(bulk_url("assign"), {"tags": [AssetFactory().tag]}).status_code == 403


def test_bulk_only_for_the_listed_transitions(client_as):
    client = client_as("clerk")
    assert client.post(bulk_url("loan"), {"tags": [AssetFactory().tag]}).status_code == 404


def test_bulk_request_disposal_starts_one_approval_per_asset(client_as):
    client = client_as("clerk")
    assets = AssetFactory.create_batch(2)
    response = client.post(
        bulk_url("request_disposal"),
        {"tags": [a.tag for a in assets], "confirm": "1", "reason": "批量报废"},
    )
    assert response.status_code == 302
    assert ApprovalRequest.objects.filter(transition="request_disposal").count() == 2
    assert set(Asset.objects.values_list("status", flat=True)) == {Status.PENDING_DISPOSAL}


def test_list_page_offers_bulk_buttons_to_clerks_only(client_as):
    AssetFactory()
    clerk_body = client_as("clerk").get(reverse("assets:list")).content.decode()
    assert 'data-testid="bulk-assign"' in clerk_body
    auditor_body = client_as("auditor").get(reverse("assets:list")).content.decode()
    assert 'data-testid="bulk-assign"' not in auditor_body


# --- Forms ------------------------------------------------------------------------------------


def _form(name, data, asset=None):
    from django.utils.module_loading import import_string

    from assets.lifecycle import TRANSITIONS

    t = TRANSITIONS[name]
    return import_string(t.form)(data, asset=asset, transition=t)


def test_assign_form_needs_a_person_or_a_department():
    form = _form("assign", {})
    assert not form.is_valid()
    assert list(form.errors) == ["holder"]
    assert _form("assign", {"department": DepartmentFactory().pk}).is_valid()


def test_dates_in_the_past_and_future_are_refused():
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    person = PersonFactory()
    assert list(_form("assign", {"holder": person.pk, "due_date": yesterday}).errors) == [
        "due_date"
    ]
    store = LocationFactory()
    assert list(_form("receive", {"location": store.pk, "received_on": tomorrow}).errors) == [
        "received_on"
    ]


def test_transfer_form_refuses_no_change():
    person = PersonFactory()
    asset = AssetFactory(assigned=True, holder=person, department=person.department)
    form = _form("transfer", {"holder": person.pk}, asset=asset)
    assert list(form.errors) == ["holder"]


def test_forms_hand_note_and_data_to_the_service():
    person = PersonFactory()
    form = _form("loan", {"holder": person.pk, "due_date": "2099-01-31", "note": "出差"})
    assert form.is_valid(), form.errors
    args = form.service_arguments()
    assert args["note"] == "出差"
    assert args["data"]["holder"] == person
    assert args["data"]["due_date"].isoformat() == "2099-01-31"
    assert "note" not in args["data"]
