"""The admin's lifecycle pages: records are read-only, and transition actions go through the
lifecycle service with a confirmation page (assets/admin_lifecycle.py)."""

from datetime import timedelta

import pytest
from django.contrib import admin, messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assets.admin_lifecycle import ADMIN_TRANSITIONS
from assets.lifecycle import Status
from assets.models import (
    ApprovalRequest,
    ApprovalStep,
    Asset,
    AssetEvent,
    AssetRequest,
    Handover,
    RepairOrder,
)

from .factories import (
    ApprovalRequestFactory,
    AssetFactory,
    CategoryFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
    RepairOrderFactory,
)

RECORDS = [AssetEvent, ApprovalRequest, RepairOrder, Handover, AssetRequest]


def admin_url(model, page, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def _event(asset, user=None, **extra):
    return AssetEvent.objects.create(
        asset=asset,
        transition="assign",
        from_status=Status.IN_STOCK,
        to_status=Status.IN_USE,
        actor=user,
        note="领用",
        **extra,
    )


@pytest.fixture
def records(db, make_user):
    """One row of every lifecycle record."""
    user = make_user("clerk")
    dept = DepartmentFactory(name="研发中心")
    person = PersonFactory(name="张三", department=dept)
    asset = AssetFactory(assigned=True, holder=person, department=dept)
    handover = Handover.objects.create(
        number="JJ-20250601-0001",
        transition="assign",
        to_person=person,
        to_department=dept,
        created_by=user,
        needs_acceptance=True,
    )
    event = _event(asset, user, handover=handover)
    approval = ApprovalRequestFactory(asset=asset, requested_by=user, reason="老化")
    ApprovalStep.objects.create(request=approval, number=1, role="dept_head", approver=user)
    ApprovalStep.objects.create(request=approval, number=2, role="clerk")
    repair = RepairOrderFactory(asset=asset, reported_by=user, in_repair=True)
    request = AssetRequest.objects.create(
        requester=person, department=dept, category=CategoryFactory(), reason="新员工入职"
    )
    return {
        AssetEvent: event,
        ApprovalRequest: approval,
        RepairOrder: repair,
        Handover: handover,
        AssetRequest: request,
    }


def test_every_lifecycle_record_is_registered():
    assert set(RECORDS) <= set(admin.site._registry)


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m._meta.model_name)
@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_records_are_listed_and_shown_read_only(client_as, records, model, role):
    client = client_as(role)
    obj = records[model]

    changelist = client.get(admin_url(model, "changelist"))
    change = client.get(admin_url(model, "change", obj.pk))

    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == 1
    assert change.status_code == 200
    assert b'name="_save"' not in change.content  # a view page, no form to save


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m._meta.model_name)
def test_records_cannot_be_added_changed_or_deleted(client_as, records, model):
    client = client_as("admin")
    obj = records[model]
    before = model.objects.count()

    add = client.get(admin_url(model, "add"))
    delete = client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})
    changed = client.post(admin_url(model, "change", obj.pk), {})

    assert add.status_code == 403
    assert delete.status_code == 403
    assert changed.status_code == 403
    assert model.objects.count() == before


def test_the_approval_page_shows_its_steps(client_as, records):
    approval = records[ApprovalRequest]

    response = client_as("clerk").get(admin_url(ApprovalRequest, "change", approval.pk))

    html = response.content.decode()
    assert "dept_head" in html
    assert 'name="steps-0-comment"' not in html  # inline shown read-only


@pytest.mark.parametrize("role", ["employee", "auditor", "dept_head"])
def test_other_roles_get_403(client_as, records, role):
    assert client_as(role).get(admin_url(AssetEvent, "changelist")).status_code == 403


def _changelist_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_event_changelist_queries_do_not_grow_with_rows(client_as, records):
    client = client_as("clerk")
    asset = records[AssetEvent].asset
    few = _changelist_queries(client, AssetEvent)
    for _ in range(30):
        _event(AssetFactory(), client.user, handover=records[Handover])
    _event(asset, None)

    assert _changelist_queries(client, AssetEvent) == few


@pytest.mark.parametrize("model", [ApprovalRequest, RepairOrder, Handover, AssetRequest])
def test_the_other_changelists_do_not_grow_with_rows(client_as, records, model):
    client = client_as("clerk")
    few = _changelist_queries(client, model)
    row = records[model]
    for i in range(10):
        row.pk = None
        if model is RepairOrder:
            row.number = f"WX-MORE-{i}"
            row.asset = AssetFactory()
        if model is Handover:
            row.number = f"JJ-MORE-{i}"
            row.to_person = PersonFactory()
        if model is AssetRequest:
            row.requester = PersonFactory()
        if model is ApprovalRequest:
            row.asset = AssetFactory()
        row._state.adding = True
        row.save()

    assert _changelist_queries(client, model) == few


# --- Transition actions -------------------------------------------------------------------------


def _action(client, name, assets, **form):
    data = {"action": f"transition_{name}", "_selected_action": [a.pk for a in assets]}
    if form:
        data["post"] = "yes"
        data.update({f"transition-{k}": v for k, v in form.items()})
    return client.post(admin_url(Asset, "changelist"), data, follow=bool(form))


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_transition_actions_are_offered_to_clerks(client_as, db):
    response = client_as("clerk").get(admin_url(Asset, "changelist"))

    choices = dict(response.context["action_form"].fields["action"].choices)
    assert {f"transition_{n}" for n in ADMIN_TRANSITIONS} <= set(choices)


def test_an_action_first_asks_for_its_form_and_changes_nothing(client_as, db):
    asset = AssetFactory(assigned=True, holder=PersonFactory())

    response = _action(client_as("clerk"), "return", [asset])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/assets/asset/transition_confirmation.html"
    html = response.content.decode()
    assert 'name="transition-location"' in html
    assert asset.tag in html
    asset.refresh_from_db()
    assert asset.status == Status.IN_USE
    assert not AssetEvent.objects.exists()


def test_return_action_runs_the_transition_and_records_the_event(client_as, db):
    client = client_as("clerk")
    warehouse = LocationFactory(warehouse=True)
    dept = DepartmentFactory()
    assets = [
        AssetFactory(assigned=True, holder=PersonFactory(department=dept), department=dept)
        for _ in range(2)
    ]

    response = _action(
        client, "return", assets, location=warehouse.pk, condition="完好", note="离职归还"
    )

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith(admin_url(Asset, "changelist"))
    for asset in assets:
        asset.refresh_from_db()
        assert asset.status == Status.IN_STOCK
        assert asset.holder is None
        assert asset.location == warehouse
        event = AssetEvent.objects.get(asset=asset)
        assert (event.transition, event.from_status, event.to_status) == (
            "return",
            Status.IN_USE,
            Status.IN_STOCK,
        )
        assert event.actor == client.user
        assert event.note == "离职归还"
    levels = [m.level for m in response.context["messages"]]
    assert levels == [messages.SUCCESS]


def test_an_invalid_form_is_shown_again_and_nothing_changes(client_as, db):
    asset = AssetFactory(assigned=True, holder=PersonFactory())

    response = _action(client_as("clerk"), "return", [asset], location="", note="x")

    assert response.status_code == 200
    assert response.context["form"].errors["location"]
    asset.refresh_from_db()
    assert asset.status == Status.IN_USE
    assert not AssetEvent.objects.exists()


def test_a_forbidden_transition_reports_each_asset_and_changes_nothing(client_as, db):
    warehouse = LocationFactory(warehouse=True)
    in_use = AssetFactory(assigned=True, holder=PersonFactory())
    in_stock = AssetFactory()

    response = _action(client_as("clerk"), "return", [in_use, in_stock], location=warehouse.pk)

    texts = _messages(response)
    assert any(m.startswith(f"{in_stock.tag}: ") for m in texts)
    assert not any(m.startswith(f"{in_use.tag}: ") for m in texts)
    in_use.refresh_from_db()
    assert in_use.status == Status.IN_USE  # all or nothing
    assert not AssetEvent.objects.exists()


def test_cancel_disposal_action(client_as, db):
    asset = AssetFactory(pending_disposal=True)

    _action(client_as("clerk"), "cancel_disposal", [asset], note="继续使用")

    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK
    assert AssetEvent.objects.get(asset=asset).transition == "cancel_disposal"


def test_found_action_puts_the_asset_back_in_stock_where_it_was_found(client_as, db):
    asset = AssetFactory(lost=True)
    room = LocationFactory()
    yesterday = timezone.localdate() - timedelta(days=1)

    _action(client_as("clerk"), "found", [asset], location=room.pk, received_on=yesterday)

    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK
    assert asset.location == room
    assert AssetEvent.objects.get(asset=asset).to_status == Status.IN_STOCK
