"""The lifecycle service: every state × every transition, what each transition writes, the
repair orders, disposal, approvals, bulk (all or nothing), the lint rule that keeps
``status`` writes inside the services, and two clerks racing for one asset on MariaDB."""

from __future__ import annotations

import ast
import re
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.utils import timezone, translation

from assets.lifecycle import (
    TRANSITIONS,
    DisposalMethod,
    Status,
    TransitionNotAllowed,
    target_of,
)
from assets.models import (
    ApprovalRequest,
    Asset,
    AssetEvent,
    Attachment,
    Handover,
    RepairOrder,
)
from assets.services import asset_transition, asset_transition_bulk
from assets.signals import asset_transitioned

from .factories import (
    ApprovalRequestFactory,
    AssetFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
    RepairOrderFactory,
    SupplierFactory,
)

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Handover PDFs and uploads go to a temporary directory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/media/"},
        },
    }
    return tmp_path


def not_allowed_message(name: str, status: str) -> str:
    with pytest.raises(TransitionNotAllowed) as exc:
        target_of(name, status)
    return str(exc.value)


# --- Every state × every transition -----------------------------------------------------------


def _given(name: str, asset: Asset) -> dict:
    """Valid arguments for ``name`` on ``asset`` (and the rows it depends on)."""
    today = timezone.localdate()
    kwargs: dict = {"data": {}}
    if name in ("receive", "found", "return", "relocate"):
        kwargs["data"] = {"location": LocationFactory(warehouse=True)}
    elif name == "assign":
        kwargs["data"] = {"holder": PersonFactory()}
    elif name == "loan":
        kwargs["data"] = {"holder": PersonFactory(), "due_date": today + timedelta(days=14)}
    elif name == "transfer":
        kwargs["data"] = {"holder": PersonFactory()}
    elif name == "send_to_repair":
        kwargs["data"] = {"fault": "屏幕闪烁", "expected_cost": Decimal("200.00")}
    elif name in ("repair_done", "repair_failed"):
        if asset.status == Status.IN_REPAIR:
            RepairOrderFactory(asset=asset, in_repair=True, previous_status=Status.IN_USE)
        kwargs["data"] = {"actual_cost": Decimal("350.00"), "result": "更换屏幕"}
    elif name == "dispose":
        ApprovalRequestFactory(asset=asset, approved=True)
        kwargs["data"] = {"method": DisposalMethod.RECYCLING}
    elif name in ("request_disposal", "report_lost"):
        kwargs["approval"] = ApprovalRequestFactory(
            asset=asset, transition=name, previous_status=asset.status
        )
    elif name == "reject_disposal":
        kwargs["approval"] = ApprovalRequestFactory(
            asset=asset, rejected=True, previous_status=Status.IN_REPAIR
        )
    return kwargs


def _expected_target(name: str) -> str:
    if name == "repair_done":
        return Status.IN_USE  # the open repair order remembers "in use"
    if name == "reject_disposal":
        return Status.IN_REPAIR  # the approval remembers "in repair"
    return TRANSITIONS[name].target


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(TRANSITIONS))
@pytest.mark.parametrize("state", list(Status))
def test_every_state_and_transition(clerk, state, name):
    # given
    asset = AssetFactory(status=state)
    kwargs = _given(name, asset)
    t = TRANSITIONS[name]
    if state in t.sources:
        # when
        event = asset_transition(asset=asset, transition=name, actor=clerk, **kwargs)
        # then: exactly one event with the right from → to, and the asset in the target
        target = _expected_target(name)
        asset.refresh_from_db()
        assert asset.status == target
        assert list(AssetEvent.objects.filter(asset=asset)) == [event]
        assert (event.transition, event.from_status, event.to_status, event.actor) == (
            name,
            state,
            target,
            clerk,
        )
    else:
        holder_before = asset.holder_id
        # when
        with pytest.raises(ValidationError) as exc:
            asset_transition(asset=asset, transition=name, actor=clerk, **kwargs)
        # then: a clear message and nothing changed
        assert exc.value.messages == [not_allowed_message(name, state)]
        asset.refresh_from_db()
        assert asset.status == state
        assert asset.holder_id == holder_before
        assert AssetEvent.objects.filter(asset=asset).count() == 0
        assert Handover.objects.count() == 0
        assert not RepairOrder.objects.filter(asset=asset, state="in_repair").exclude(
            number__startswith="WX-TEST-"
        )


def test_the_forbidden_message_is_chinese_for_a_chinese_user():
    with translation.override("zh-hans"), pytest.raises(TransitionNotAllowed) as exc:
        target_of("assign", Status.DISPOSED)
    # the status label comes from the translated catalogue (已处置), whatever the msgid
    assert "已处置" in str(exc.value)


# --- What each transition writes --------------------------------------------------------------


@pytest.mark.django_db
def test_assign_sets_holder_department_location_due_date_and_a_handover(
    clerk, django_capture_on_commit_callbacks
):
    # given
    dept = DepartmentFactory(name="研发中心")
    person = PersonFactory(name="张三", department=dept)
    room = LocationFactory(name="A座301")
    asset = AssetFactory()
    due = timezone.localdate() + timedelta(days=30)
    received = []

    def receiver(sender, event_id, **kwargs):
        received.append(event_id)

    asset_transitioned.connect(receiver)
    try:
        # when
        with django_capture_on_commit_callbacks(execute=True):
            event = asset_transition(
                asset=asset,
                transition="assign",
                actor=clerk,
                note="新员工入职",
                data={"holder": person, "location": room, "due_date": due},
            )
    finally:
        asset_transitioned.disconnect(receiver)

    # then
    asset.refresh_from_db()
    assert (asset.status, asset.holder, asset.department, asset.location, asset.due_date) == (
        Status.IN_USE,
        person,
        dept,  # the person's department by default
        room,
        due,
    )
    assert event.note == "新员工入职"
    assert event.payload["holder"] == {"id": person.pk, "name": str(person)}
    assert event.payload["due_date"] == due.isoformat()
    assert event.payload["to"]["department"] == {"id": dept.pk, "name": str(dept)}
    assert event.payload["from"]["holder"] is None
    handover = Handover.objects.get(pk=event.handover_id)  # the PDF is stored after commit
    assert re.fullmatch(rf"JJ-{timezone.localdate():%Y%m%d}-0001", handover.number)
    assert (handover.transition, handover.to_person, handover.to_department) == (
        "assign",
        person,
        dept,
    )
    assert handover.pdf.name.endswith(".pdf")
    assert handover.pdf.read().startswith(b"%PDF")
    assert received == [event.pk]  # sent once, after commit


@pytest.mark.django_db
def test_the_signal_waits_for_the_commit(clerk, django_capture_on_commit_callbacks):
    # given
    asset = AssetFactory()
    received = []

    def receiver(sender, event_id, **kwargs):
        received.append(event_id)

    asset_transitioned.connect(receiver)
    try:
        # when: the transaction has not committed yet
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            event = asset_transition(
                asset=asset, transition="assign", actor=clerk, data={"holder": PersonFactory()}
            )
        # then: nothing sent yet; the commit's callbacks send it once
        assert received == []
        for callback in callbacks:
            callback()
        assert received == [event.pk]
    finally:
        asset_transitioned.disconnect(receiver)


@pytest.mark.django_db
def test_assign_needs_a_person_or_a_department_and_changes_nothing_without(clerk):
    # given
    asset = AssetFactory()
    # when
    with pytest.raises(ValidationError) as exc:
        asset_transition(asset=asset, transition="assign", actor=clerk, data={})
    # then
    assert list(exc.value.message_dict) == ["holder"]
    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK
    assert AssetEvent.objects.count() == 0
    assert Handover.objects.count() == 0


@pytest.mark.django_db
def test_assign_to_a_department_only(clerk):
    # given
    dept = DepartmentFactory()
    asset = AssetFactory()
    # when
    asset_transition(asset=asset, transition="assign", actor=clerk, data={"department": dept})
    # then
    asset.refresh_from_db()
    assert (asset.status, asset.holder, asset.department) == (Status.IN_USE, None, dept)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"due_date": timezone.localdate() + timedelta(days=3)}, "holder"),
        ({}, "holder"),
        ("no-date", "due_date"),
        ("past", "due_date"),
    ],
)
def test_loan_needs_a_borrower_and_a_due_date_not_in_the_past(clerk, data, field):
    # given
    asset = AssetFactory()
    person = PersonFactory()
    if data == "no-date":
        data = {"holder": person}
    elif data == "past":
        data = {"holder": person, "due_date": timezone.localdate() - timedelta(days=1)}
    # when
    with pytest.raises(ValidationError) as exc:
        asset_transition(asset=asset, transition="loan", actor=clerk, data=data)
    # then
    assert field in exc.value.message_dict
    asset.refresh_from_db()
    assert (asset.status, asset.holder, asset.due_date) == (Status.IN_STOCK, None, None)


@pytest.mark.django_db
def test_return_clears_holder_department_and_due_date_and_records_the_condition(clerk):
    # given
    person = PersonFactory()
    asset = AssetFactory(
        on_loan=True,
        holder=person,
        department=person.department,
        due_date=timezone.localdate() + timedelta(days=2),
    )
    store = LocationFactory(warehouse=True)
    # when
    event = asset_transition(
        asset=asset,
        transition="return",
        actor=clerk,
        data={"location": store, "condition": "外壳有划痕"},
    )
    # then
    asset.refresh_from_db()
    assert (asset.status, asset.holder, asset.department, asset.due_date, asset.location) == (
        Status.IN_STOCK,
        None,
        None,
        None,
        store,
    )
    assert event.payload["condition"] == "外壳有划痕"
    assert event.payload["from"]["holder"] == {"id": person.pk, "name": str(person)}
    assert event.handover.from_person == person
    assert event.handover.to_person is None
    assert event.handover.needs_acceptance is False


@pytest.mark.django_db
def test_transfer_records_both_sides(clerk):
    # given
    old, new = PersonFactory(name="李四"), PersonFactory(name="王五")
    old_room, new_room = LocationFactory(), LocationFactory()
    asset = AssetFactory(assigned=True, holder=old, department=old.department, location=old_room)
    # when
    event = asset_transition(
        asset=asset,
        transition="transfer",
        actor=clerk,
        data={"holder": new, "location": new_room},
    )
    # then
    asset.refresh_from_db()
    assert (asset.status, asset.holder, asset.department, asset.location) == (
        Status.IN_USE,
        new,
        new.department,
        new_room,
    )
    assert event.payload["from"]["holder"]["name"] == str(old)
    assert event.payload["to"]["holder"]["name"] == str(new)
    assert event.payload["from"]["location"]["id"] == old_room.pk
    assert event.payload["to"]["location"]["id"] == new_room.pk
    assert (event.handover.from_person, event.handover.to_person) == (old, new)


@pytest.mark.django_db
def test_transfer_to_the_same_place_is_refused(clerk):
    person = PersonFactory()
    asset = AssetFactory(assigned=True, holder=person, department=person.department)
    with pytest.raises(ValidationError) as exc:
        asset_transition(asset=asset, transition="transfer", actor=clerk, data={"holder": person})
    assert "holder" in exc.value.message_dict
    assert AssetEvent.objects.count() == 0


@pytest.mark.django_db
def test_handover_numbers_count_up_per_day(clerk):
    # given
    assets = AssetFactory.create_batch(3)
    # when
    events = [
        asset_transition(
            asset=a, transition="assign", actor=clerk, data={"holder": PersonFactory()}
        )
        for a in assets
    ]
    # then
    day = timezone.localdate().strftime("%Y%m%d")
    assert [e.handover.number for e in events] == [f"JJ-{day}-{n:04d}" for n in (1, 2, 3)]


# --- Repairs ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_send_to_repair_opens_an_order_and_repair_done_goes_back_to_in_use(clerk):
    # given
    person = PersonFactory()
    asset = AssetFactory(assigned=True, holder=person, department=person.department)
    vendor = SupplierFactory(name="联想服务站")
    # when
    sent = asset_transition(
        asset=asset,
        transition="send_to_repair",
        actor=clerk,
        data={"vendor": vendor, "fault": "无法开机", "expected_cost": Decimal("500.00")},
    )
    # then
    order = RepairOrder.objects.get(asset=asset)
    day = timezone.localdate().strftime("%Y%m%d")
    assert order.number == f"WX-{day}-0001"
    assert (order.state, order.vendor, order.fault, order.expected_cost) == (
        RepairOrder.State.IN_REPAIR,
        vendor,
        "无法开机",
        Decimal("500.00"),
    )
    assert (order.previous_status, order.sent_on, order.reported_by) == (
        Status.IN_USE,
        timezone.localdate(),
        clerk,
    )
    assert sent.payload["repair_order"] == {"id": order.pk, "name": order.number}
    assert sent.payload["expected_cost"] == "500.00"
    assert sent.payload["vendor"] == {"id": vendor.pk, "name": "联想服务站"}

    # when
    done = asset_transition(
        asset=asset,
        transition="repair_done",
        actor=clerk,
        data={"actual_cost": Decimal("420.50"), "result": "更换主板"},
    )
    # then: back to in use with the same holder
    asset.refresh_from_db()
    order.refresh_from_db()
    assert (asset.status, asset.holder) == (Status.IN_USE, person)
    assert (done.from_status, done.to_status) == (Status.IN_REPAIR, Status.IN_USE)
    assert (order.state, order.actual_cost, order.result, order.returned_on) == (
        RepairOrder.State.DONE,
        Decimal("420.50"),
        "更换主板",
        timezone.localdate(),
    )


@pytest.mark.django_db
def test_send_to_repair_takes_over_a_fault_an_employee_reported(clerk):
    # given
    asset = AssetFactory(assigned=True)
    reported = RepairOrderFactory(asset=asset, fault="键盘失灵")
    # when
    asset_transition(
        asset=asset,
        transition="send_to_repair",
        actor=clerk,
        data={"repair_order": reported, "vendor": SupplierFactory()},
    )
    # then: the same order, now in repair; no second one
    reported.refresh_from_db()
    assert RepairOrder.objects.filter(asset=asset).count() == 1
    assert (reported.state, reported.fault, reported.previous_status) == (
        RepairOrder.State.IN_REPAIR,
        "键盘失灵",
        Status.IN_USE,
    )


@pytest.mark.django_db
def test_another_assets_report_cannot_be_taken_over(clerk):
    asset = AssetFactory(assigned=True)
    foreign = RepairOrderFactory()
    with pytest.raises(ValidationError) as exc:
        asset_transition(
            asset=asset, transition="send_to_repair", actor=clerk, data={"repair_order": foreign}
        )
    assert "repair_order" in exc.value.message_dict
    foreign.refresh_from_db()
    assert foreign.state == RepairOrder.State.REQUESTED


@pytest.mark.django_db
def test_repair_failed_goes_to_pending_disposal_and_closes_the_order(clerk):
    # given
    asset = AssetFactory(in_repair=True)
    order = RepairOrderFactory(asset=asset, in_repair=True)
    # when
    event = asset_transition(
        asset=asset, transition="repair_failed", actor=clerk, data={"result": "主板烧毁"}
    )
    # then
    order.refresh_from_db()
    assert event.to_status == Status.PENDING_DISPOSAL
    assert (order.state, order.result) == (RepairOrder.State.FAILED, "主板烧毁")


@pytest.mark.django_db
def test_send_to_repair_needs_a_fault_description(clerk):
    asset = AssetFactory()
    with pytest.raises(ValidationError) as exc:
        asset_transition(asset=asset, transition="send_to_repair", actor=clerk, data={})
    assert list(exc.value.message_dict) == ["fault"]
    assert RepairOrder.objects.count() == 0


# --- Disposal and approvals -------------------------------------------------------------------


@pytest.mark.django_db
def test_dispose_needs_an_approved_disposal_request(clerk):
    # given: pending disposal, the request still pending
    asset = AssetFactory(pending_disposal=True)
    ApprovalRequestFactory(asset=asset)
    # when
    with pytest.raises(ValidationError) as exc:
        asset_transition(
            asset=asset, transition="dispose", actor=clerk, data={"method": "recycling"}
        )
    # then
    assert exc.value.error_list[0].code == "not_approved"
    asset.refresh_from_db()
    assert asset.status == Status.PENDING_DISPOSAL


@pytest.mark.django_db
def test_dispose_records_method_proceeds_date_and_certificate(clerk):
    # given
    person = PersonFactory()
    asset = AssetFactory(pending_disposal=True, holder=person, department=person.department)
    ApprovalRequestFactory(asset=asset, approved=True)
    certificate = SimpleUploadedFile("销毁证明.pdf", PDF, "application/pdf")
    day = timezone.localdate() - timedelta(days=1)
    # when
    event = asset_transition(
        asset=asset,
        transition="dispose",
        actor=clerk,
        data={
            "method": DisposalMethod.SALE,
            "proceeds": Decimal("800.00"),
            "disposed_on": day,
            "certificate": certificate,
        },
    )
    # then
    asset.refresh_from_db()
    assert (asset.status, asset.disposed_on, asset.holder, asset.department) == (
        Status.DISPOSED,
        day,
        None,
        None,
    )
    attachment = Attachment.objects.get(asset=asset)
    assert (attachment.kind, attachment.original_name) == (Attachment.Kind.OTHER, "销毁证明.pdf")
    assert event.payload["method"] == "sale"
    assert event.payload["proceeds"] == "800.00"
    assert event.payload["disposed_on"] == day.isoformat()
    assert event.payload["certificate"] == {"id": attachment.pk, "name": "销毁证明.pdf"}


@pytest.mark.django_db
def test_dispose_refuses_a_method_it_does_not_know(clerk):
    asset = AssetFactory(pending_disposal=True)
    ApprovalRequestFactory(asset=asset, approved=True)
    with pytest.raises(ValidationError) as exc:
        asset_transition(asset=asset, transition="dispose", actor=clerk, data={"method": "抛弃"})
    assert list(exc.value.message_dict) == ["method"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["request_disposal", "report_lost"])
def test_transitions_needing_approval_refuse_to_run_without_one(clerk, name):
    asset = AssetFactory()
    with pytest.raises(ValidationError) as exc:
        asset_transition(asset=asset, transition=name, actor=clerk)
    assert exc.value.error_list[0].code == "needs_approval"
    asset.refresh_from_db()
    assert asset.status == Status.IN_STOCK
    assert AssetEvent.objects.count() == 0


@pytest.mark.django_db
def test_cancel_disposal_cancels_the_approval(clerk):
    # given
    asset = AssetFactory(pending_disposal=True)
    approval = ApprovalRequestFactory(asset=asset, approved=True)
    # when
    asset_transition(asset=asset, transition="cancel_disposal", actor=clerk)
    # then: a later trip to pending disposal needs a new approval
    approval.refresh_from_db()
    assert approval.state == ApprovalRequest.State.CANCELLED


@pytest.mark.django_db
def test_an_approver_may_run_the_approved_transition(make_user):
    # given: a department head (no report_lost permission) with the approval in hand
    head = make_user("dept_head")
    asset = AssetFactory(assigned=True)
    approval = ApprovalRequestFactory(asset=asset, transition="report_lost", approved=True)
    # when
    event = asset_transition(asset=asset, transition="report_lost", actor=head, approval=approval)
    # then
    assert event.to_status == Status.LOST


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["employee", "auditor", "dept_head"])
def test_users_without_the_permission_change_nothing(make_user, role):
    # given
    user = make_user(role)
    asset = AssetFactory()
    # when
    with pytest.raises(PermissionDenied):
        asset_transition(
            asset=asset, transition="assign", actor=user, data={"holder": PersonFactory()}
        )
    # then
    asset.refresh_from_db()
    assert (asset.status, asset.holder) == (Status.IN_STOCK, None)
    assert AssetEvent.objects.count() == 0


@pytest.mark.django_db
def test_an_unknown_transition_is_refused(clerk):
    asset = AssetFactory()
    with pytest.raises(ValidationError):
        asset_transition(asset=asset, transition="teleport", actor=clerk)
    assert AssetEvent.objects.count() == 0


# --- Bulk -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_assign_does_all_with_one_handover(clerk, django_capture_on_commit_callbacks):
    # given
    person = PersonFactory()
    assets = AssetFactory.create_batch(3)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        events = asset_transition_bulk(
            assets=assets, transition="assign", actor=clerk, data={"holder": person}
        )
    # then
    assert len(events) == 3
    assert set(Asset.objects.values_list("status", "holder")) == {(Status.IN_USE, person.pk)}
    handover = Handover.objects.get()
    assert {e.handover_id for e in events} == {handover.pk}
    assert handover.pdf.read().startswith(b"%PDF")


@pytest.mark.django_db
def test_bulk_is_all_or_nothing_with_an_error_per_asset(clerk):
    # given: two in stock, one in use, one disposed
    person = PersonFactory()
    ok1, ok2 = AssetFactory(), AssetFactory()
    busy = AssetFactory(assigned=True, holder=PersonFactory())
    gone = AssetFactory(disposed=True)
    # when
    with pytest.raises(ValidationError) as exc:
        asset_transition_bulk(
            assets=[ok1, busy, ok2, gone],
            transition="assign",
            actor=clerk,
            data={"holder": person},
        )
    # then: one message per failing asset, and nothing changed at all
    assert exc.value.message_dict == {
        busy.tag: [not_allowed_message("assign", Status.IN_USE)],
        gone.tag: [not_allowed_message("assign", Status.DISPOSED)],
    }
    assert set(Asset.objects.filter(pk__in=[ok1.pk, ok2.pk]).values_list("status", "holder")) == {
        (Status.IN_STOCK, None)
    }
    assert AssetEvent.objects.count() == 0
    assert Handover.objects.count() == 0


@pytest.mark.django_db
def test_bulk_send_to_repair_opens_one_order_per_asset(clerk):
    assets = AssetFactory.create_batch(2)
    asset_transition_bulk(
        assets=assets, transition="send_to_repair", actor=clerk, data={"fault": "批量检修"}
    )
    assert RepairOrder.objects.filter(state="in_repair").count() == 2
    assert len(set(RepairOrder.objects.values_list("number", flat=True))) == 2


@pytest.mark.django_db
def test_bulk_with_nothing_selected_is_refused(clerk):
    with pytest.raises(ValidationError):
        asset_transition_bulk(assets=[], transition="return", actor=clerk)


# --- Lint: nothing but the services writes Asset.status ---------------------------------------

ROOT = Path(settings.BASE_DIR)
SKIPPED_PARTS = {".venv", "venv", "migrations", "tests", "node_modules", ".git", "var"}
# Where writing Asset.status is allowed, and why.
ALLOWED = {
    "assets/services/": "the lifecycle service; asset_create sets the initial status once",
    "bench/_data.py": "bulk-inserts a synthetic register for benchmarks (no lifecycle)",
    "assets/demo_register.py": "bulk demo seeding (no lifecycle)",
}
WRITE_METHODS = {"update", "create", "get_or_create", "update_or_create", "bulk_update"}


def _mentions_asset(node: ast.AST) -> bool:
    return "asset" in ast.unparse(node).lower()


class StatusWrites(ast.NodeVisitor):
    """Finds writes of ``status`` on assets: ``asset.status = …``, ``setattr(asset,
    "status", …)``, ``Asset(status=…)``, ``….update(status=…)`` / ``create`` /
    ``get_or_create(defaults={"status": …})`` / ``bulk_update(…, ["status"])`` on an asset
    queryset. In the assets app (where only Asset has a ``status``) any such write counts."""

    def __init__(self, *, in_assets_app: bool):
        self.in_assets_app = in_assets_app
        self.found: list[tuple[int, str]] = []

    def _hit(self, node: ast.AST) -> None:
        self.found.append((node.lineno, ast.unparse(node)[:100]))

    def _is_asset(self, node: ast.AST) -> bool:
        return self.in_assets_app or _mentions_asset(node)

    def _targets(self, node, targets):
        for target in targets:
            for sub in ast.walk(target):
                if (
                    isinstance(sub, ast.Attribute)
                    and sub.attr == "status"
                    and isinstance(sub.ctx, ast.Store)
                    and self._is_asset(sub.value)
                ):
                    self._hit(node)

    def visit_Assign(self, node):
        self._targets(node, node.targets)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._targets(node, [node.target])
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._targets(node, [node.target])
        self.generic_visit(node)

    @staticmethod
    def _dict_has_status(node) -> bool:
        return isinstance(node, ast.Dict) and any(
            isinstance(k, ast.Constant) and k.value == "status" for k in node.keys
        )

    def visit_Call(self, node):
        func = node.func
        keywords = {k.arg: k.value for k in node.keywords}
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if called == "setattr" and len(node.args) >= 2:
            name = node.args[1]
            is_status = isinstance(name, ast.Constant) and name.value == "status"
            if is_status and self._is_asset(node.args[0]):
                self._hit(node)
        elif called == "Asset" and "status" in keywords:
            self._hit(node)
        elif isinstance(func, ast.Attribute) and func.attr in WRITE_METHODS:
            on_asset = self._is_asset(func.value)
            fields = node.args[1] if len(node.args) > 1 else keywords.get("fields")
            writes = (
                "status" in keywords
                or self._dict_has_status(keywords.get("defaults"))
                or self._dict_has_status(keywords.get("create_defaults"))
                or (
                    func.attr == "bulk_update"
                    and isinstance(fields, ast.List | ast.Tuple | ast.Set)
                    and any(
                        isinstance(e, ast.Constant) and e.value == "status" for e in fields.elts
                    )
                )
            )
            if on_asset and writes:
                self._hit(node)
        self.generic_visit(node)


def status_writes(source: str, *, in_assets_app: bool) -> list[tuple[int, str]]:
    visitor = StatusWrites(in_assets_app=in_assets_app)
    visitor.visit(ast.parse(source))
    return visitor.found


def _python_files():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if SKIPPED_PARTS & set(rel.parts) or rel.name.startswith("test_"):
            continue
        if rel.name == "conftest.py":
            continue
        yield rel


@pytest.mark.parametrize(
    "snippet",
    [
        "asset.status = 'in_use'",
        "locked.status = Status.IN_USE",  # in the assets app any .status write counts
        "Asset.objects.filter(pk=1).update(status='lost')",
        "Asset(tag='x', status='in_use')",
        "models.Asset(status='in_use')",
        "setattr(asset, 'status', 'lost')",
        "Asset.objects.create(tag='x', status='lost')",
        "Asset.objects.get_or_create(tag='x', defaults={'status': 'lost'})",
        "Asset.objects.bulk_update(assets, ['status', 'holder'])",
        "self.asset.status: str = 'lost'",
    ],
)
def test_the_lint_finds_status_writes(snippet):
    assert status_writes(snippet, in_assets_app=True), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "Asset.objects.filter(status='in_use').count()",
        "render(request, 'x.html', status=400)",
        "response.status_code = 404",
        "order.state = 'done'",
        "value = asset.status",
    ],
)
def test_the_lint_leaves_reads_alone(snippet):
    assert status_writes(snippet, in_assets_app=True) == []


def test_nothing_outside_the_services_writes_asset_status():
    # given: every Python file of the project (not migrations, tests or the virtualenv)
    offenders = []
    for rel in _python_files():
        posix = rel.as_posix()
        if any(posix.startswith(prefix) for prefix in ALLOWED):
            continue
        source = (ROOT / rel).read_text(encoding="utf-8")
        for line, code in status_writes(source, in_assets_app=posix.startswith("assets/")):
            offenders.append(f"{posix}:{line}: {code}")
    # then
    assert offenders == [], (
        "Asset.status may only be written by assets.services (asset_transition); "
        "found:\n" + "\n".join(offenders)
    )


# --- Concurrency on MariaDB -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_clerks_assigning_the_same_asset_at_once_one_wins(make_user):
    # given: an in-stock asset, two clerks with their own connections, one barrier
    assert connection.vendor == "mysql", "the race needs the real MariaDB"
    clerks = [make_user("clerk"), make_user("clerk")]
    people = [PersonFactory(name="赵六"), PersonFactory(name="钱七")]
    asset = AssetFactory()
    start = threading.Barrier(2)
    results: dict[int, object] = {}
    lock = threading.Lock()

    def assign(i: int) -> None:
        try:
            start.wait(timeout=30)
            translation.activate("zh-hans")  # each thread has its own active language
            asset_transition(
                asset=Asset.objects.get(pk=asset.pk),
                transition="assign",
                actor=clerks[i],
                data={"holder": people[i]},
            )
            outcome: object = "ok"
        except ValidationError as exc:
            outcome = exc.messages
        except BaseException as exc:  # reported in the assertion below
            outcome = exc
        finally:
            connections.close_all()
        with lock:
            results[i] = outcome

    # when
    threads = [threading.Thread(target=assign, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # then: exactly one succeeded; the other got the clear message; one event
    assert not any(t.is_alive() for t in threads)
    outcomes = sorted(results.values(), key=str)
    with translation.override("zh-hans"):
        expected = not_allowed_message("assign", Status.IN_USE)
    assert outcomes == [[expected], "ok"], results
    winner = next(i for i, r in results.items() if r == "ok")
    asset.refresh_from_db()
    assert (asset.status, asset.holder) == (Status.IN_USE, people[winner])
    assert AssetEvent.objects.filter(asset=asset).count() == 1
    assert Handover.objects.count() == 1
