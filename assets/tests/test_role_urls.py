"""Every URL of the assets app × every role: the exact answer each role gets.

The URL list comes from the resolver: every pattern whose view lives in ``assets`` (the
register under ``/assets/``, and ``/approvals/``, ``/me/``, ``/requests/``, ``/reports/``
that the app mounts). A URL without an entry in ``EXPECTATIONS`` fails the test for every
role, naming the URL and this table; an entry without a URL fails too.

Each entry lists cases: a method, the URL's arguments (objects of a small organisation,
``World``, built once for the module), and the status each role gets:

- ``LOGIN``: 302 to the login page (anonymous);
- ``REDIRECT``: 302 elsewhere (a plain POST that worked and redirects);
- 200, 400, 403, 404, 405.

POSTs carry a valid CSRF token (the client enforces CSRF, so a 403 is never a missing
token). A refused POST must change nothing (rows of every table the views write are
compared before and after); an accepted one must have its effect (``done``). Each request
runs in a savepoint that is rolled back, so the cases of one test do not see each other's
writes.

The rules the table encodes (issue 3 and 4):
- Data scope: clerk, admin and auditor see every asset; a department head the assets of the
  department (and sub-departments) they head and their own; an employee or a keeper their
  own. An asset outside the scope answers 404, exactly like one that does not exist
  (another department's tag guessed by an employee or a department head → 404).
- A user without any role: 403 on the register's pages and label PDFs, 404 on its objects.
- Writes need the permission (else 403): only admin and clerk write the register and run
  transitions; the auditor views everything and every write is 403. Department heads
  decide approvals and asset requests of their departments.
- Self-service (``/me/``) is authorised by the staff record: any user linked to a Person
  uses it for what they hold or requested (also an auditor: it is their own laptop); a user
  without one gets 403; somebody else's asset, handover or request answers 404.
- Saving the list's visible columns is a per-user preference, not a write to the register:
  every role with a scope may do it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from assets.lifecycle import Status
from assets.models import (
    ApprovalRequest,
    ApprovalStep,
    Asset,
    AssetEvent,
    AssetRequest,
    Attachment,
    Handover,
    RepairOrder,
    UserPreference,
)
from assets.services import (
    approval_decide,
    approval_request,
    asset_request_decide,
    asset_request_submit,
    asset_transition,
    attachment_add,
)
from itassets.roles import ROLES as ROLES_BY_SLUG
from itassets.testing.urls import app_urls

from .factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
    RepairOrderFactory,
)

ROLES = ("anonymous", "norole", "admin", "clerk", "keeper", "dept_head", "employee", "auditor")
LOGIN = "302 → login"
REDIRECT = "302"
CSRF_TOKEN = "rolesurlstestcsrftoken0123456789"  # 32 characters: an unmasked secret
MISSING_TAG = "IT-1999-999999"
BULK = ("assign", "transfer", "return", "send_to_repair", "request_disposal")
PUBLIC_TRANSITIONS = (
    "receive",
    "assign",
    "loan",
    "return",
    "transfer",
    "relocate",
    "send_to_repair",
    "repair_done",
    "repair_failed",
    "request_disposal",
    "dispose",
    "cancel_disposal",
    "report_lost",
    "found",
)


def expect(default, *, anonymous=LOGIN, **roles) -> dict[str, object]:
    """The status of every role: ``default`` unless named (anonymous: the login page)."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {"anonymous": anonymous, **{r: roles.get(r, default) for r in ROLES[1:]}}


# Who sees what (see the module docstring).
WRITERS = {"admin": REDIRECT, "clerk": REDIRECT}  # a valid POST of the register works
ALL_SCOPE_200 = {"admin": 200, "clerk": 200, "auditor": 200}


# --- The organisation -----------------------------------------------------------------------


@dataclass
class World:
    """总部 › 研发中心 (head: the dept_head user; the employee works there), 市场部 (its own
    head), IT部 (admin, clerk, keeper and auditor). Assets:

    - ``mine``: the employee's laptop (in use, 研发中心), with a photo and the handover
      receipt of its assignment waiting for the employee's confirmation;
    - ``team``: an in-stock laptop of 研发中心 (the head sees it, the employee does not);
    - ``other``: 市场部's laptop, held by a 市场部 person (only the all-scope roles see it),
      with a photo, its handover and a reported fault;
    - ``disposal``: pending disposal, its ``approval`` waiting for the head of 研发中心
      (requested by the clerk); ``other_approval`` waits for the head of 市场部;
      ``rejected``: a 市场部 disposal request its head rejected.
    Asset requests: the employee's (``emp_request`` submitted, ``approved_request``
    approved by the head), and one of a 市场部 person (``sales_request``).
    Users: one per role (``norole`` has none), all but ``norole`` with a staff record.
    """

    users: dict
    persons: dict
    model: object
    laptops: object
    warehouse: object
    mine: Asset
    team: Asset
    other: Asset
    disposal: Asset
    handover: Handover
    other_handover: Handover
    photo: Attachment
    other_photo: Attachment
    repair: RepairOrder
    approval: ApprovalRequest
    other_approval: ApprovalRequest
    rejected: ApprovalRequest
    emp_request: AssetRequest
    approved_request: AssetRequest
    sales_request: AssetRequest


def jpeg(size=(64, 48), colour=(200, 40, 40)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def photo_upload(name="photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg(), content_type="image/jpeg")


def _user(role: str | None, username: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(username=username, password=None)
    if role:
        user.groups.add(Group.objects.get(name=ROLES_BY_SLUG[role].group))
    return user


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The organisation, built once for the module inside a transaction that is rolled back
    at the end (like ``TestCase.setUpTestData``); each test's own transaction nests in it."""
    storage = {
        **django_settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path_factory.mktemp("media")), "base_url": "/media/"},
        },
    }
    with override_settings(STORAGES=storage), django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _build_world() -> World:
    root = DepartmentFactory(name="总部")
    rd = DepartmentFactory(parent=root, name="研发中心")
    sales = DepartmentFactory(parent=root, name="市场部")
    it = DepartmentFactory(parent=root, name="IT部")
    users = {role: _user(role, f"{role}-user") for role in ROLES[2:]}
    users["norole"] = _user(None, "norole-user")
    users["sales_head"] = _user("dept_head", "sales-head")
    persons = {
        role: PersonFactory(user=users[role], department=it, name=f"{role}君")
        for role in ("admin", "clerk", "keeper", "auditor")
    }
    persons["dept_head"] = PersonFactory(user=users["dept_head"], department=rd, name="王主任")
    persons["employee"] = PersonFactory(user=users["employee"], department=rd, name="张三")
    persons["sales_head"] = PersonFactory(user=users["sales_head"], department=sales, name="李经理")
    persons["sales"] = PersonFactory(department=sales, name="赵六")  # no login
    rd.head = persons["dept_head"]
    rd.save(update_fields=["head"])
    sales.head = persons["sales_head"]
    sales.save(update_fields=["head"])

    computers = CategoryFactory(name="计算机设备")
    laptops = CategoryFactory(parent=computers, name="笔记本电脑")
    model = AssetModelFactory(category=laptops, name="ThinkPad X1")
    warehouse = LocationFactory(warehouse=True, name="一号仓库")
    clerk = users["clerk"]

    def laptop(department, **kwargs):
        return AssetFactory(model=model, department=department, location=warehouse, **kwargs)

    mine = laptop(rd)
    asset_transition(
        asset=mine, transition="assign", actor=clerk, data={"holder": persons["employee"]}
    )
    other = laptop(sales)
    asset_transition(
        asset=other, transition="assign", actor=clerk, data={"holder": persons["sales"]}
    )
    team = laptop(rd)
    disposal = laptop(rd)
    approval = approval_request(asset=disposal, transition="request_disposal", actor=clerk)
    other_approval = approval_request(
        asset=laptop(sales), transition="request_disposal", actor=clerk
    )
    rejected = approval_request(asset=laptop(sales), transition="request_disposal", actor=clerk)
    approval_decide(approval=rejected, actor=users["sales_head"], approve=False, comment="还能用")

    emp_request = asset_request_submit(actor=users["employee"], category=laptops, reason="新项目")
    approved_request = asset_request_submit(
        actor=users["employee"], category=laptops, reason="备用机"
    )
    asset_request_decide(request=approved_request, actor=users["dept_head"], approve=True)
    sales_request = AssetRequest.objects.create(
        requester=persons["sales"], department=sales, category=laptops, reason="展会"
    )
    return World(
        users=users,
        persons=persons,
        model=model,
        laptops=laptops,
        warehouse=warehouse,
        mine=mine,
        team=team,
        other=other,
        disposal=disposal,
        handover=Handover.objects.get(events__asset=mine),
        other_handover=Handover.objects.get(events__asset=other),
        photo=attachment_add(actor=clerk, asset=mine, upload=photo_upload()),
        other_photo=attachment_add(actor=clerk, asset=other, upload=photo_upload()),
        repair=RepairOrderFactory(asset=other),
        approval=approval,
        other_approval=other_approval,
        rejected=rejected,
        emp_request=emp_request,
        approved_request=approved_request,
        sales_request=sales_request,
    )


# --- The table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request: what it is about (``label``), how to build it, what each role gets."""

    label: str
    expect: dict
    method: str = "GET"
    args: Callable[[World], dict] = lambda w: {}
    query: Callable[[World], dict] = lambda w: {}
    data: Callable[[World], dict] = lambda w: {}
    # For a POST that some role may make: whether it had its effect (``user`` made it).
    done: Callable[[World, object], bool] | None = None


def tag(name):
    return lambda w: {"tag": getattr(w, name).tag}


def pk(name):
    return lambda w: {"pk": getattr(w, name).pk}


def status_of(asset_name, status):
    return lambda w, user: Asset.objects.get(pk=getattr(w, asset_name).pk).status == status


def state_of(model, obj_name, state):
    return lambda w, user: model.objects.get(pk=getattr(w, obj_name).pk).state == state


def _asset_post(w: World, asset: Asset, **changes) -> dict:
    data = {
        "model": asset.model_id,
        "name": asset.name,
        "serial_number": asset.serial_number or "",
        "department": asset.department_id or "",
        "holder": asset.holder_id or "",
        "location": asset.location_id or "",
        "supplier": "",
        "order_number": "",
        "invoice_number": "",
        "purchase_date": "",
        "cost": str(asset.cost or ""),
        "warranty_end": "",
        "useful_life_months": "",
        "residual_rate": "",
        "notes": "",
    }
    return {**data, **changes}


def _transition_get(name: str) -> Case:
    return Case(
        f"form of {name} on a 研发中心 asset",
        expect(404, admin=200, clerk=200, auditor=403, dept_head=403),
        args=lambda w: {"tag": w.team.tag, "transition": name},
    )


POST_ONLY = expect(405)

EXPECTATIONS: dict[str, list[Case]] = {
    # --- /assets/: the register -------------------------------------------------------------
    "assets:list": [Case("the list", expect(200, norole=403))],
    "assets:columns": [
        Case("GET", POST_ONLY),
        Case(
            "save my columns (a preference)",
            expect(REDIRECT, norole=403),
            method="POST",
            data=lambda w: {"columns": ["tag", "name", "status"], "next": "/assets/"},
            done=lambda w, user: UserPreference.objects.filter(user=user).exists(),
        ),
    ],
    "assets:create": [
        Case("the form", expect(403, admin=200, clerk=200)),
        Case(
            "a valid new asset",
            expect(403, **WRITERS),
            method="POST",
            data=lambda w: _asset_post(w, w.team, name="新笔记本", department="", cost="6999"),
            done=lambda w, user: Asset.objects.filter(name="新笔记本").exists(),
        ),
    ],
    "assets:model_options": [
        Case(
            "models of a category",
            expect(403, admin=200, clerk=200),
            query=lambda w: {"category": w.laptops.pk},
        )
    ],
    "assets:labels": [
        Case("the selection form", expect(200, norole=403)),
        Case(
            "labels of the employee's asset",
            expect(200, norole=403, keeper=400),
            query=lambda w: {"tags": w.mine.tag},
        ),
        Case(
            "labels of 市场部's asset (guessed tag)",
            expect(400, norole=403, **ALL_SCOPE_200),
            query=lambda w: {"tags": w.other.tag},
        ),
        Case(
            "labels of 市场部's asset by POST (printing writes nothing)",
            expect(400, norole=403, **ALL_SCOPE_200),
            method="POST",
            data=lambda w: {"tags": w.other.tag, "format": "50x30"},
        ),
    ],
    "assets:export": [
        Case(
            "the list as CSV (each role its own scope)",
            expect(200, norole=403),
            args=lambda w: {"fmt": "csv"},
        ),
        Case("the list as Excel", expect(200, norole=403), args=lambda w: {"fmt": "xlsx"}),
        Case("an unknown format", expect(404), args=lambda w: {"fmt": "pdf"}),
    ],
    "assets:unconfirmed": [Case("unconfirmed handovers", expect(403, admin=200, clerk=200))],
    "assets:bulk": [
        *[
            Case(
                f"bulk {name} form",
                expect(403, admin=200, clerk=200),
                args=lambda w, name=name: {"transition": name},
                query=lambda w: {"tags": w.team.tag},
            )
            for name in BULK
        ],
        Case(
            "not a bulk transition",
            expect(404),
            args=lambda w: {"transition": "dispose"},
            query=lambda w: {"tags": w.disposal.tag},
        ),
        Case(
            "bulk assign confirmed",
            expect(403, **WRITERS),
            method="POST",
            args=lambda w: {"transition": "assign"},
            data=lambda w: {"tags": w.team.tag, "confirm": "1", "holder": w.persons["employee"].pk},
            done=status_of("team", Status.IN_USE),
        ),
    ],
    "assets:handover_pdf": [
        Case(
            "the employee's receipt",
            expect(200, norole=404, keeper=404),
            args=pk("handover"),
        ),
        Case(
            "市场部's receipt (guessed number)",
            expect(404, **ALL_SCOPE_200),
            args=pk("other_handover"),
        ),
    ],
    "assets:repair_list": [Case("repair orders", expect(403, **ALL_SCOPE_200))],
    "assets:repair_detail": [
        Case("a repair order", expect(403, **ALL_SCOPE_200), args=pk("repair")),
        Case(
            "no such repair order",
            expect(403, admin=404, clerk=404, auditor=404),
            args=lambda w: {"pk": 999999},
        ),
    ],
    "assets:detail": [
        Case("the employee's asset", expect(200, norole=404, keeper=404), args=tag("mine")),
        Case(
            "a 研发中心 asset",
            expect(200, norole=404, keeper=404, employee=404),
            args=tag("team"),
        ),
        Case("市场部's asset (guessed tag)", expect(404, **ALL_SCOPE_200), args=tag("other")),
        Case("no such tag", expect(404), args=lambda w: {"tag": MISSING_TAG}),
    ],
    "assets:qr": [
        Case("the employee's asset", expect(200, norole=404, keeper=404), args=tag("mine")),
        Case("市场部's asset (guessed tag)", expect(404, **ALL_SCOPE_200), args=tag("other")),
        Case("no such tag", expect(404), args=lambda w: {"tag": MISSING_TAG}),
    ],
    "assets:edit": [
        Case("the employee's asset", expect(403, admin=200, clerk=200), args=tag("mine")),
        Case("市场部's asset", expect(403, admin=200, clerk=200), args=tag("other")),
        Case("no such tag", expect(403, admin=404, clerk=404), args=lambda w: {"tag": MISSING_TAG}),
        Case(
            "rename 市场部's asset",
            expect(403, **WRITERS),
            method="POST",
            args=tag("other"),
            data=lambda w: _asset_post(w, w.other, name="改名的电脑"),
            done=lambda w, user: Asset.objects.get(pk=w.other.pk).name == "改名的电脑",
        ),
    ],
    "assets:label": [
        Case("the employee's asset", expect(200, norole=403, keeper=404), args=tag("mine")),
        Case(
            "市场部's asset (guessed tag)",
            expect(404, norole=403, **ALL_SCOPE_200),
            args=tag("other"),
        ),
    ],
    "assets:transition": [
        *[_transition_get(name) for name in PUBLIC_TRANSITIONS],
        Case(
            "assign 市场部's asset",
            expect(404, admin=200, clerk=200, auditor=403),
            args=lambda w: {"tag": w.other.tag, "transition": "assign"},
        ),
        Case(
            "an internal transition",
            expect(404),
            args=lambda w: {"tag": w.disposal.tag, "transition": "reject_disposal"},
        ),
        Case(
            "no such transition",
            expect(404),
            args=lambda w: {"tag": w.team.tag, "transition": "steal"},
        ),
        Case(
            "assign a 研发中心 asset",
            expect(404, auditor=403, dept_head=403, **WRITERS),
            method="POST",
            args=lambda w: {"tag": w.team.tag, "transition": "assign"},
            data=lambda w: {"holder": w.persons["employee"].pk, "note": "领用"},
            done=status_of("team", Status.IN_USE),
        ),
        Case(
            "return the employee's asset",
            expect(403, norole=404, keeper=404, **WRITERS),
            method="POST",
            args=lambda w: {"tag": w.mine.tag, "transition": "return"},
            data=lambda w: {"location": w.warehouse.pk},
            done=status_of("mine", Status.IN_STOCK),
        ),
        Case(
            "send 市场部's asset to repair",
            expect(404, auditor=403, **WRITERS),
            method="POST",
            args=lambda w: {"tag": w.other.tag, "transition": "send_to_repair"},
            data=lambda w: {
                "repair_order": w.repair.pk,  # take over the reported fault
                "fault": "",
                "sent_on": timezone.localdate().isoformat(),
            },
            done=status_of("other", Status.IN_REPAIR),
        ),
    ],
    "assets:attachment_upload": [
        Case("GET", POST_ONLY, args=tag("mine")),
        Case(
            "a photo of the employee's asset",
            expect(403, **WRITERS),
            method="POST",
            args=tag("mine"),
            data=lambda w: {"file": photo_upload("new.jpg"), "kind": "photo"},
            done=lambda w, user: Attachment.objects.filter(
                asset=w.mine, original_name="new.jpg"
            ).exists(),
        ),
    ],
    "assets:attachment": [
        Case(
            "the employee's photo",
            expect(200, norole=404, keeper=404),
            args=lambda w: {"tag": w.mine.tag, "pk": w.photo.pk},
        ),
        Case(
            "市场部's photo",
            expect(404, **ALL_SCOPE_200),
            args=lambda w: {"tag": w.other.tag, "pk": w.other_photo.pk},
        ),
        Case(
            "市场部's photo under the employee's tag",
            expect(404),
            args=lambda w: {"tag": w.mine.tag, "pk": w.other_photo.pk},
        ),
    ],
    "assets:attachment_thumb": [
        Case(
            "the employee's photo",
            expect(200, norole=404, keeper=404),
            args=lambda w: {"tag": w.mine.tag, "pk": w.photo.pk},
        ),
        Case(
            "市场部's photo",
            expect(404, **ALL_SCOPE_200),
            args=lambda w: {"tag": w.other.tag, "pk": w.other_photo.pk},
        ),
    ],
    # --- /approvals/ ------------------------------------------------------------------------
    "approvals:list": [Case("the queue", expect(403, admin=200, clerk=200, dept_head=200))],
    "approvals:detail": [
        Case(
            "a 研发中心 disposal",
            expect(404, dept_head=200, **ALL_SCOPE_200),
            args=pk("approval"),
        ),
        Case("a 市场部 disposal", expect(404, **ALL_SCOPE_200), args=pk("other_approval")),
    ],
    "approvals:decide": [
        Case("the head's open step", expect(403, dept_head=200), args=pk("approval")),
        Case("市场部's open step", expect(403), args=pk("other_approval")),
        Case(
            "市场部's decided request",
            expect(403, admin=200, clerk=200),
            args=pk("rejected"),
        ),
        Case(
            "approve the head's step",
            expect(403, dept_head=REDIRECT),
            method="POST",
            args=pk("approval"),
            data=lambda w: {"decision": "approve", "comment": "同意"},
            done=lambda w, user: w.approval.steps.get(number=1).decided_by_id == user.pk,
        ),
        Case(
            "approve 市场部's step",
            expect(403),
            method="POST",
            args=pk("other_approval"),
            data=lambda w: {"decision": "approve", "comment": "同意"},
        ),
        Case(
            "decide 市场部's decided request",
            expect(403, admin=200, clerk=200),
            method="POST",
            args=pk("rejected"),
            data=lambda w: {"decision": "approve", "comment": "同意"},
        ),
    ],
    "approvals:cancel": [
        Case("GET", POST_ONLY, args=pk("approval")),
        Case(
            "withdraw the clerk's disposal request",
            expect(404, clerk=REDIRECT),
            method="POST",
            args=pk("approval"),
            done=state_of(ApprovalRequest, "approval", ApprovalRequest.State.CANCELLED),
        ),
    ],
    # --- /me/: self-service -----------------------------------------------------------------
    "me:assets": [Case("my assets", expect(200, norole=403))],
    "me:return_request": [
        Case("for my asset", expect(404, norole=403, employee=200), args=tag("mine")),
        Case("for 市场部's asset", expect(404, norole=403), args=tag("other")),
        Case(
            "ask to return my asset",
            expect(404, norole=403, employee=REDIRECT),
            method="POST",
            args=tag("mine"),
            data=lambda w: {"note": "项目结束"},
            done=lambda w, user: AssetEvent.objects.filter(
                asset=w.mine, transition="return_requested", actor=user
            ).exists(),
        ),
    ],
    "me:fault_report": [
        Case("for my asset", expect(404, norole=403, employee=200), args=tag("mine")),
        Case("for 市场部's asset", expect(404, norole=403), args=tag("other")),
        Case(
            "report a fault of my asset",
            expect(404, norole=403, employee=REDIRECT),
            method="POST",
            args=tag("mine"),
            data=lambda w: {"fault": "无法开机"},
            done=lambda w, user: RepairOrder.objects.filter(
                asset=w.mine, reported_by=user
            ).exists(),
        ),
        Case(
            "report a fault of 市场部's asset",
            expect(404, norole=403),
            method="POST",
            args=tag("other"),
            data=lambda w: {"fault": "无法开机"},
        ),
    ],
    "me:handover_accept": [
        Case("GET", POST_ONLY, args=pk("handover")),
        Case(
            "confirm my receipt",
            expect(404, norole=403, employee=REDIRECT),
            method="POST",
            args=pk("handover"),
            done=lambda w, user: Handover.objects.get(pk=w.handover.pk).accepted_by_id == user.pk,
        ),
        Case(
            "confirm 市场部's receipt",
            expect(404, norole=403),
            method="POST",
            args=pk("other_handover"),
        ),
    ],
    "me:requests": [
        Case("my requests", expect(200, norole=403)),
        Case(
            "request a laptop",
            expect(REDIRECT, norole=403),
            method="POST",
            data=lambda w: {"category": w.laptops.pk, "model": "", "reason": "需要电脑"},
            done=lambda w, user: AssetRequest.objects.filter(
                requester__user=user, reason="需要电脑"
            ).exists(),
        ),
    ],
    "me:model_options": [
        Case(
            "models of a category",
            expect(200, norole=403),
            query=lambda w: {"category": w.laptops.pk},
        )
    ],
    "me:request_cancel": [
        Case("GET", POST_ONLY, args=pk("emp_request")),
        Case(
            "cancel the employee's request",
            expect(404, norole=403, employee=REDIRECT),
            method="POST",
            args=pk("emp_request"),
            done=state_of(AssetRequest, "emp_request", AssetRequest.State.CANCELLED),
        ),
    ],
    # --- /requests/: heads decide, clerks fulfil --------------------------------------------
    "requests:list": [Case("the queue", expect(403, admin=200, clerk=200, dept_head=200))],
    "requests:decide": [
        Case(
            "the employee's request", expect(404, admin=200, dept_head=200), args=pk("emp_request")
        ),
        Case("市场部's request", expect(404, admin=200), args=pk("sales_request")),
        Case(
            "approve the employee's request",
            expect(404, admin=REDIRECT, dept_head=REDIRECT),
            method="POST",
            args=pk("emp_request"),
            data=lambda w: {"decision": "approve", "comment": ""},
            done=state_of(AssetRequest, "emp_request", AssetRequest.State.APPROVED),
        ),
        Case(
            "approve 市场部's request",
            expect(404, admin=REDIRECT),
            method="POST",
            args=pk("sales_request"),
            data=lambda w: {"decision": "approve", "comment": ""},
            done=state_of(AssetRequest, "sales_request", AssetRequest.State.APPROVED),
        ),
    ],
    "requests:fulfil": [
        Case("an approved request", expect(404, admin=200, clerk=200), args=pk("approved_request")),
        Case(
            "fulfil it with the in-stock laptop",
            expect(404, **WRITERS),
            method="POST",
            args=pk("approved_request"),
            data=lambda w: {"asset": w.team.pk, "location": "", "note": ""},
            done=state_of(AssetRequest, "approved_request", AssetRequest.State.FULFILLED),
        ),
    ],
    # --- /reports/ --------------------------------------------------------------------------
    "reports:depreciation": [
        Case("the report", expect(403, **ALL_SCOPE_200)),
        Case("as Excel", expect(403, **ALL_SCOPE_200), query=lambda w: {"export": "xlsx"}),
    ],
}


# --- The URLs, from the resolver ------------------------------------------------------------


URLS = app_urls("assets")


def test_the_table_names_only_urls_that_exist():
    stale = sorted(set(EXPECTATIONS) - set(URLS))
    assert not stale, f"EXPECTATIONS lists URLs the resolver does not have: {stale}"


def test_the_walk_finds_the_mounted_pages():
    # The resolver walk itself: a broken walk would make the table test vacuous.
    for name in ("assets:detail", "approvals:list", "me:assets", "requests:list"):
        assert name in URLS
    assert URLS["reports:depreciation"] == "/reports/depreciation/"
    assert {name.split(":")[0] for name in URLS} == {
        "assets",
        "approvals",
        "me",
        "requests",
        "reports",
    }


# --- The test -------------------------------------------------------------------------------


def snapshot() -> dict:
    """Every row the assets views may write (what a refused request must leave alone)."""
    return {
        "assets": list(
            Asset.objects.order_by("pk").values_list(
                "pk", "status", "name", "holder", "department", "location", "updated_at"
            )
        ),
        "history": Asset.history.count(),
        "events": list(AssetEvent.objects.order_by("pk").values_list("pk", flat=True)),
        "approvals": list(
            ApprovalRequest.objects.order_by("pk").values_list("pk", "state", "current_step")
        ),
        "steps": list(
            ApprovalStep.objects.order_by("pk").values_list("pk", "decision", "decided_by")
        ),
        "requests": list(AssetRequest.objects.order_by("pk").values_list("pk", "state")),
        "handovers": list(Handover.objects.order_by("pk").values_list("pk", "accepted_by")),
        "repairs": list(RepairOrder.objects.order_by("pk").values_list("pk", "state")),
        "attachments": list(Attachment.objects.order_by("pk").values_list("pk", flat=True)),
        "preferences": list(
            UserPreference.objects.order_by("pk").values_list("pk", "user", "key", "value")
        ),
    }


def _answer(response) -> object:
    if response.status_code == 302:
        login = resolve_url(django_settings.LOGIN_URL)
        return LOGIN if response["Location"].startswith(login) else REDIRECT
    return response.status_code


def _run(client: Client, world: World, role: str, user, name: str, case: Case) -> list[str]:
    """Make the request in a savepoint that is rolled back; return what went wrong."""
    url = reverse(name, kwargs=case.args(world))
    with transaction.atomic():
        before = snapshot() if case.method == "POST" else None
        if case.method == "POST":
            data = {"csrfmiddlewaretoken": CSRF_TOKEN, **case.data(world)}
            response = client.post(url, data)
        else:
            response = client.get(url, case.query(world))
        if response.streaming:  # read it: the client's wrapper then closes it safely
            b"".join(response.streaming_content)
        got = _answer(response)
        problems = []
        wanted = case.expect[role]
        if got != wanted:
            problems.append(f"{case.method} {url} ({case.label}): expected {wanted}, got {got}")
        elif case.method == "POST":
            accepted = got in (200, REDIRECT) and case.done is not None
            if accepted and not case.done(world, user):
                problems.append(f"POST {url} ({case.label}): answered {got} but did nothing")
            elif not accepted and snapshot() != before:
                problems.append(f"POST {url} ({case.label}): refused with {got} but changed data")
        transaction.set_rollback(True)
    return problems


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(URLS))
@pytest.mark.parametrize("role", ROLES)
def test_role_gets_the_expected_answer_on_every_url(world, role, name):
    cases = EXPECTATIONS.get(name)
    if not cases:
        pytest.fail(
            f"{name} ({URLS[name]}) has no entry in EXPECTATIONS of {__name__}: add a Case "
            "with the status every role gets (and a POST case if it writes)",
            pytrace=False,
        )
    # given
    client = Client(enforce_csrf_checks=True)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = CSRF_TOKEN
    user = world.users.get(role)
    if user is not None:
        client.force_login(user)
    # when / then
    problems = [p for case in cases for p in _run(client, world, role, user, name, case)]
    assert not problems, f"role {role}:\n  " + "\n  ".join(problems)
