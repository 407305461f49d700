"""Every URL the inventory app serves × every role: the exact answer each role gets.

The URL list comes from the resolver: every pattern whose view lives in ``inventory``
(``/inventory/…`` and the self-service pages it adds to ``/me/``: requisitions and
stocktake confirmations). A URL without an entry in ``EXPECTATIONS`` fails the test for
every role, naming the URL and this table; an entry without a URL fails too.

Each entry lists cases: a method, the URL's arguments (objects of a small organisation,
``World``, built once for the module), and what each role gets:

- ``LOGIN``: 302 to the login page (anonymous);
- ``REDIRECT``: 302 elsewhere after a POST that did what it was asked (``done`` holds);
- ``FORM``: 200 with the form again and its error, ``BOUNCED``: 302 back with an error
  message: the POST was refused and changed nothing;
- 200 (a POST answering 200 did what it was asked), 400, 401, 403, 404, 405.

POSTs carry a valid CSRF token (the client enforces CSRF, so a 403 is never a missing
token). A refused POST must change nothing: the rows of every table the inventory views
write (documents, ledger, stock, requisitions, stocktakes, scans, count lines, assets) are
compared before and after. Each request runs in a savepoint that is rolled back, so the
cases of one test do not see each other's writes.

The rules the table encodes:
- Items, stock, documents: ``inventory.view_*`` (keepers, clerks, administrators,
  auditors); employees, department heads and users without a role get 403. Documents are
  scoped: keepers see the documents of the warehouses they keep, so another warehouse's
  document (a guessed id) answers 404, like one that does not exist; a keeper who keeps no
  warehouse sees none and may create none (403). Writing documents: keepers of the
  warehouse and administrators; clerks and auditors read only (403).
- Requisitions: any user with a staff record requests (``/me/requisitions/``, else 403) and
  sees their own; somebody else's answers 404, also to the head of another department.
  Heads decide their departments' requisitions; keepers of at least one warehouse (and
  administrators) issue them; the queue and fulfilment are 403 for anyone else. The
  requester withdraws; any keeper (also one keeping no warehouse: the permission decides)
  and administrators close an approved one.
- Stocktakes: ``inventory.view_stocktake`` or an assignment as counter, else 403 (count
  sheets, which look the stocktake up by visibility only, answer 404). Clerks, auditors and
  administrators see every stocktake; keepers the consumable ones and those they count (an
  asset stocktake they do not count: 404). Managing: clerks for asset stocktakes, keepers
  for consumable ones, administrators for both. Only an assigned counter scans (403 for
  everybody else, whoever they are); count sheets are counted by the warehouse's keeper,
  administrators and counters assigned to it.
- Stocktake self-confirmation: the holder confirms their own line (another's: 404).

Where the views answer otherwise today and that is a bug, the case names it (``bugs=``) and
runs alone for those roles as a strict xfail, with what it should answer.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from assets.lifecycle import Status as AssetStatus
from assets.models import Asset
from assets.tests.factories import AssetFactory, DepartmentFactory, LocationFactory, PersonFactory
from inventory.models import (
    CountLine,
    CountSheet,
    Document,
    DocumentLine,
    Item,
    LedgerEntry,
    Requisition,
    RequisitionLine,
    Stock,
    Stocktake,
    StocktakeCounter,
    StocktakeExpected,
    StocktakeScan,
    Warehouse,
)
from inventory.services import count_sheets as count_services
from inventory.services import requisition_decide, requisition_submit
from inventory.services import stocktakes as stocktake_services
from inventory.services.stocktake_confirmations import stocktake_self_confirm
from itassets.roles import ROLES as ROLES_BY_SLUG
from itassets.testing.urls import app_urls

from .factories import DocumentFactory, ItemFactory, RequisitionFactory, WarehouseFactory
from .stocktake_helpers import scan

ROLES = (
    "anonymous",
    "norole",  # signed in, no role and no staff record
    "admin",
    "clerk",
    "keeper",  # keeps 一号仓库
    "keeper_idle",  # a keeper who keeps no warehouse
    "dept_head",  # head of 研发中心
    "employee",  # works in 研发中心
    "auditor",
)
LOGIN = "302 → login"
REDIRECT = "302"


@dataclass(frozen=True)
class Refused:
    """An answer to a POST that refused it: it must change nothing."""

    status: object

    def __repr__(self):
        return f"{self.status} (refused)"


FORM = Refused(200)  # the form again, with the error
BOUNCED = Refused(REDIRECT)  # back to the page, with an error message
CSRF_TOKEN = "rolesurlstestcsrftoken0123456789"  # 32 characters: an unmasked secret
MISSING = 999999
JSON = {"HTTP_ACCEPT": "application/json"}


def expect(default, *, anonymous=LOGIN, **roles) -> dict[str, object]:
    """The answer of every role: ``default`` unless named (anonymous: the login page)."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {"anonymous": anonymous, **{r: roles.get(r, default) for r in ROLES[1:]}}


def each(roles: str, answer, **others) -> dict[str, object]:
    """``answer`` for each of ``roles`` (names separated by spaces), then ``others``."""
    return {**dict.fromkeys(roles.split(), answer), **others}


# Who reads the inventory (``inventory.view_*``), and who sees everything.
READERS = "admin clerk keeper keeper_idle auditor"
ALL_SCOPE = "admin clerk auditor"
POST_ONLY = expect(405)


# --- The organisation -----------------------------------------------------------------------


@dataclass
class World:
    """总部 › 研发中心 (head: the dept_head user; the employee works there), 市场部 (a person
    with a login, ``sales``), IT部 (admin, clerk, both keepers, auditor).

    Consumables: 一号仓库 (``w1``, kept by the keeper) and 二号仓库 (``w2``, kept by
    ``other_keeper``, no role of the table), each with a posted receipt and a draft one;
    toner and cable.

    Requisitions: the employee's submitted one (``req_mine``) and approved one
    (``req_approved``, toner × 1), and a 市场部 person's submitted one (``req_sales``).

    Stocktakes (the keeper counts the asset ones):
    - ``st_asset``: counting, 楼A (rooms 101 and 102). E-1 and E-2 are the employee's laptops
      in 101, S-1 and S-2 the 市场部 person's, R-1 is in stock in 102. E-1, E-2 and S-1 were
      asked for self-confirmation; E-1 and S-1 were confirmed with a photo;
    - ``st_closed``: 102 only, R-1 found there, closed (its results not applied yet);
    - ``st_draft``: 102, a draft;
    - ``st_cons``: consumables of 一号仓库, counting, counted (cable one short);
    - ``st_cons_w2``: consumables of 二号仓库 (the other keeper's), counting, counted right;
    - ``st_cons_draft``: consumables of 二号仓库, a draft of the other keeper's.
    """

    users: dict
    persons: dict
    w1: Warehouse
    w2: Warehouse
    toner: Item
    cable: Item
    room1: object
    room2: object
    w1_posted: Document
    w1_draft: Document
    w2_posted: Document
    w2_draft: Document
    req_mine: Requisition
    req_approved: Requisition
    req_sales: Requisition
    st_asset: Stocktake
    st_closed: Stocktake
    st_draft: Stocktake
    st_cons: Stocktake
    st_cons_w2: Stocktake
    st_cons_draft: Stocktake
    lines: dict  # tag → StocktakeExpected of st_asset
    sheet_w1: CountSheet
    sheet_w2: CountSheet
    sessions: dict = field(default_factory=dict)  # role → session key, see _sessions

    def count_line(self, sheet: CountSheet, item: Item) -> CountLine:
        return CountLine.objects.get(sheet=sheet, item=item)


def jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 120, 200)).save(out, "JPEG")
    return out.getvalue()


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
    at the end (like ``TestCase.setUpTestData``); each test's own transaction nests in it.
    Confirmation photos go to a temporary directory."""
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
            built = _build_world()
            built.sessions = _sessions(built)
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _sessions(w: World) -> dict[str, str]:
    """A session cookie per signed-in role (a login once per module, not per test)."""
    sessions = {}
    for role in ROLES[1:]:
        client = Client()
        client.force_login(w.users[role])
        sessions[role] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return sessions


def _build_world() -> World:
    root = DepartmentFactory(name="总部")
    rd = DepartmentFactory(parent=root, name="研发中心")
    sales = DepartmentFactory(parent=root, name="市场部")
    it = DepartmentFactory(parent=root, name="IT部")
    users = {role: _user(role.removesuffix("_idle"), f"{role}-user") for role in ROLES[2:]}
    users["norole"] = _user(None, "norole-user")
    users["sales"] = _user("employee", "sales-user")
    users["other_keeper"] = _user("keeper", "other-keeper")
    persons = {
        role: PersonFactory(user=users[role], department=it, name=f"{role}君")
        for role in ("admin", "clerk", "keeper", "keeper_idle", "auditor")
    }
    persons["dept_head"] = PersonFactory(user=users["dept_head"], department=rd, name="王主任")
    persons["employee"] = PersonFactory(user=users["employee"], department=rd, name="张三")
    persons["sales"] = PersonFactory(user=users["sales"], department=sales, name="赵六")
    rd.head = persons["dept_head"]
    rd.save(update_fields=["head"])

    # Consumables.
    keeper, clerk = users["keeper"], users["clerk"]
    w1 = WarehouseFactory(
        location=LocationFactory(warehouse=True, name="一号仓库"), keepers=[keeper]
    )
    w2 = WarehouseFactory(
        location=LocationFactory(warehouse=True, name="二号仓库"), keepers=[users["other_keeper"]]
    )
    toner = ItemFactory(name="硒鼓", code="TONER", barcode="6900000000011", unit="盒")
    cable = ItemFactory(name="网线", code="CABLE", barcode="6900000000028", unit="根")
    w1_posted = DocumentFactory(
        warehouse=w1, receipt=True, lines=[(toner, 10, "5.00"), (cable, 20, "2.00")], posted=True
    )
    w2_posted = DocumentFactory(warehouse=w2, receipt=True, lines=[(toner, 5, "5.00")], posted=True)
    w1_draft = DocumentFactory(warehouse=w1, receipt=True, lines=[(cable, 3, "2.00")])
    w2_draft = DocumentFactory(warehouse=w2, receipt=True, lines=[(cable, 1, "2.00")])

    # Requisitions.
    employee = users["employee"]
    req_mine = requisition_submit(
        actor=employee, lines=[{"item": toner, "quantity": "2"}], reason="打印材料"
    )
    req_approved = requisition_submit(
        actor=employee, lines=[{"item": toner, "quantity": "1"}], reason="备用"
    )
    requisition_decide(requisition=req_approved, actor=users["dept_head"], approve=True)
    req_sales = RequisitionFactory(requester=persons["sales"], lines=[(cable, 2)])

    # Asset stocktakes.
    building = LocationFactory(name="楼A", kind="building")
    room1 = LocationFactory(parent=building, name="101")
    room2 = LocationFactory(parent=building, name="102")

    def laptop(tag, location, holder=None):
        return AssetFactory(
            tag=tag,
            location=location,
            holder=holder,
            department=holder.department if holder else None,
            status=AssetStatus.IN_USE if holder else AssetStatus.IN_STOCK,
        )

    for tag in ("E-1", "E-2"):
        laptop(tag, room1, persons["employee"])
    for tag in ("S-1", "S-2"):
        laptop(tag, room1, persons["sales"])
    laptop("R-1", room2)

    def asset_stocktake(name, location):
        return stocktake_services.stocktake_create(
            actor=clerk, name=name, locations=[location], counters=[keeper]
        )

    st_closed = stocktake_services.stocktake_start(
        actor=clerk, stocktake=asset_stocktake("102 盘点", room2)
    )
    scan(st_closed, keeper, "R-1", room2)
    st_closed = stocktake_services.stocktake_close(actor=clerk, stocktake=st_closed)
    st_draft = asset_stocktake("102 复盘", room2)
    st_asset = stocktake_services.stocktake_start(
        actor=clerk, stocktake=asset_stocktake("楼A 年度盘点", building)
    )
    lines = {line.tag: line for line in StocktakeExpected.objects.filter(stocktake=st_asset)}
    StocktakeExpected.objects.filter(pk__in=[lines[t].pk for t in ("E-1", "E-2", "S-1")]).update(
        confirm_requested_at=timezone.now()
    )
    for tag, user in (("E-1", employee), ("S-1", users["sales"])):
        stocktake_self_confirm(
            line=StocktakeExpected.objects.get(pk=lines[tag].pk),
            actor=user,
            photo=SimpleUploadedFile(f"{tag}.jpg", jpeg(), content_type="image/jpeg"),
        )
    lines = {line.tag: line for line in StocktakeExpected.objects.filter(stocktake=st_asset)}

    # Consumable stocktakes, counted.
    def consumable_stocktake(name, warehouse, manager, counted):
        stocktake = stocktake_services.stocktake_create(
            actor=manager,
            name=name,
            kind=Stocktake.Kind.CONSUMABLE,
            warehouses=[warehouse],
            counters=[manager],
        )
        stocktake = stocktake_services.stocktake_start(actor=manager, stocktake=stocktake)
        sheet = CountSheet.objects.get(stocktake=stocktake)
        for item, quantity in counted.items():
            count_services.count_line_set(
                line=CountLine.objects.get(sheet=sheet, item=item), actor=manager, quantity=quantity
            )
        return stocktake, sheet

    st_cons, sheet_w1 = consumable_stocktake("一号仓库盘点", w1, keeper, {toner: "10", cable: "19"})
    st_cons_w2, sheet_w2 = consumable_stocktake(
        "二号仓库盘点", w2, users["other_keeper"], {toner: "5"}
    )
    st_cons_draft = stocktake_services.stocktake_create(
        actor=users["other_keeper"],
        name="二号仓库复盘",
        kind=Stocktake.Kind.CONSUMABLE,
        warehouses=[w2],
        counters=[users["other_keeper"]],
    )
    return World(
        users=users,
        persons=persons,
        w1=w1,
        w2=w2,
        toner=toner,
        cable=cable,
        room1=room1,
        room2=room2,
        w1_posted=w1_posted,
        w1_draft=w1_draft,
        w2_posted=w2_posted,
        w2_draft=w2_draft,
        req_mine=req_mine,
        req_approved=req_approved,
        req_sales=req_sales,
        st_asset=st_asset,
        st_closed=st_closed,
        st_draft=st_draft,
        st_cons=st_cons,
        st_cons_w2=st_cons_w2,
        st_cons_draft=st_cons_draft,
        lines=lines,
        sheet_w1=sheet_w1,
        sheet_w2=sheet_w2,
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
    headers: dict | None = None
    # For a POST that some role may make: whether it had its effect (``user`` made it).
    done: Callable[[World, object], bool] | None = None
    # Roles for which the views answer otherwise today (a known bug): {role: reason}. The
    # case runs on its own for them, marked xfail(strict=True): fixing the bug makes it pass
    # and the mark must then go.
    bugs: dict[str, str] | None = None


def pk(name):
    return lambda w: {"pk": getattr(w, name).pk}


def state_of(name, state):
    return lambda w, user: Requisition.objects.get(pk=getattr(w, name).pk).state == state


def document_status(name, status):
    return lambda w, user: Document.objects.get(pk=getattr(w, name).pk).status == status


def stocktake_status(name, status):
    return lambda w, user: Stocktake.objects.get(pk=getattr(w, name).pk).status == status


def today() -> str:
    return timezone.localdate().isoformat()


def _receipt(w: World, warehouse: Warehouse, reason: str, action: str = "save") -> dict:
    return {
        "action": action,
        "idempotency_key": "",
        "date": today(),
        "warehouse": warehouse.pk,
        "supplier": "",
        "invoice_no": "",
        "reason": reason,
        "line_item": w.cable.pk,
        "line_code": "",
        "line_quantity": "2",
        "line_unit_cost": "2.00",
        "line_direction": "",
    }


def _saved(reason, status=Document.Status.DRAFT):
    return lambda w, user: Document.objects.filter(reason=reason, status=status).exists()


def _fulfil(w: World, warehouse: Warehouse) -> dict:
    line = w.req_approved.lines.get()
    return {
        "action": "issue",
        "idempotency_key": f"roles-{warehouse.pk}",
        "warehouse": warehouse.pk,
        "reason": "",
        "scan": "",
        f"issue_{line.pk}": "1",
    }


def _stocktake_form(name, kind, **scope) -> dict:
    return {"name": name, "kind": kind, "deadline": "", "note": "", **scope}


def _scan_data(w: World, scan_id: uuid.UUID) -> dict:
    return {"scan_id": str(scan_id), "code": "R-1", "location": w.room2.pk}


def _scanned(scan_id: uuid.UUID):
    return lambda w, user: StocktakeScan.objects.filter(scan_id=scan_id, counter=user).exists()


def _counted(sheet: str, item: str, quantity: str):
    def check(w, user):
        line = w.count_line(getattr(w, sheet), getattr(w, item))
        return line.counted_quantity == Decimal(quantity)

    return check


def _line(tag):
    return lambda w: {"line_pk": w.lines[tag].pk}


def _photo(stocktake: str, tag: str):
    return lambda w: {"pk": getattr(w, stocktake).pk, "line_pk": w.lines[tag].pk}


def _sheet(stocktake: str, sheet: str):
    return lambda w: {"pk": getattr(w, stocktake).pk, "sheet_pk": getattr(w, sheet).pk}


def _count_line(stocktake: str, sheet: str, item: str):
    def args(w):
        line = w.count_line(getattr(w, sheet), getattr(w, item))
        return {"pk": getattr(w, stocktake).pk, "sheet_pk": line.sheet_id, "line_pk": line.pk}

    return args


SCAN_JSON = uuid.UUID("00000000-0000-4000-8000-000000000001")
SCAN_FORM = uuid.UUID("00000000-0000-4000-8000-000000000002")
SCAN_MISSING = uuid.UUID("00000000-0000-4000-8000-000000000003")
SHEET_SCAN_W1 = uuid.UUID("00000000-0000-4000-8000-000000000004")
SHEET_SCAN_W2 = uuid.UUID("00000000-0000-4000-8000-000000000005")
SCAN_CLOSED = uuid.UUID("00000000-0000-4000-8000-000000000006")
SCAN_OTHER = uuid.UUID("00000000-0000-4000-8000-000000000007")


def bug(reason: str, *roles: str) -> dict[str, str]:
    return dict.fromkeys(roles, reason)


EXPECTATIONS: dict[str, list[Case]] = {
    # --- Items and stock --------------------------------------------------------------------
    "inventory:item_list": [Case("the catalog", expect(403, **each(READERS, 200)))],
    "inventory:item_export": [
        Case("as CSV", expect(403, **each(READERS, 200)), args=lambda w: {"fmt": "csv"}),
        Case("as Excel", expect(403, **each(READERS, 200)), args=lambda w: {"fmt": "xlsx"}),
        Case("an unknown format", expect(404), args=lambda w: {"fmt": "pdf"}),
    ],
    "inventory:item_detail": [
        Case("toner", expect(403, **each(READERS, 200)), args=pk("toner")),
        Case(
            "no such item",
            expect(403, **each(READERS, 404)),
            args=lambda w: {"pk": MISSING},
        ),
    ],
    "inventory:low_stock": [Case("the list", expect(403, **each(READERS, 200)))],
    "inventory:low_stock_export": [
        Case("as Excel", expect(403, **each(READERS, 200)), args=lambda w: {"fmt": "xlsx"}),
        Case("as CSV", expect(403, **each(READERS, 200)), args=lambda w: {"fmt": "csv"}),
        Case("an unknown format", expect(404), args=lambda w: {"fmt": "pdf"}),
    ],
    "inventory:api_ledger": [
        Case("toner's ledger", expect(403, anonymous=401, **each(READERS, 200)), args=pk("toner")),
        Case(
            "no such item",
            expect(403, anonymous=401, **each(READERS, 404)),
            args=lambda w: {"pk": MISSING},
        ),
    ],
    # --- Documents --------------------------------------------------------------------------
    "inventory:document_list": [Case("the list", expect(403, **each(READERS, 200)))],
    "inventory:document_create": [
        Case(
            "the receipt form",
            expect(403, admin=200, keeper=200),
            args=lambda w: {"doc_type": "receipt"},
        ),
        Case(
            "the adjustment form",
            expect(403, admin=200, keeper=200),
            args=lambda w: {"doc_type": "adjustment"},
        ),
        Case("an unknown type", expect(404), args=lambda w: {"doc_type": "steal"}),
        Case(
            "a draft receipt for 一号仓库",
            expect(403, admin=REDIRECT, keeper=REDIRECT),
            method="POST",
            args=lambda w: {"doc_type": "receipt"},
            data=lambda w: _receipt(w, w.w1, "角色测试入库"),
            done=_saved("角色测试入库"),
        ),
        Case(
            "a posted receipt for 一号仓库",
            expect(403, admin=REDIRECT, keeper=REDIRECT),
            method="POST",
            args=lambda w: {"doc_type": "receipt"},
            data=lambda w: _receipt(w, w.w1, "角色测试过账", action="save_post"),
            done=_saved("角色测试过账", Document.Status.POSTED),
        ),
        Case(
            "a receipt for 二号仓库 (not the keeper's)",
            expect(403, admin=REDIRECT, keeper=FORM),
            method="POST",
            args=lambda w: {"doc_type": "receipt"},
            data=lambda w: _receipt(w, w.w2, "别人的仓库"),
            done=_saved("别人的仓库"),
        ),
    ],
    "inventory:document_detail": [
        Case(
            "一号仓库's draft",
            expect(403, **each(READERS, 200, keeper_idle=404)),
            args=pk("w1_draft"),
        ),
        Case(
            "二号仓库's receipt (guessed id)",
            expect(403, **each(ALL_SCOPE, 200, keeper=404, keeper_idle=404)),
            args=pk("w2_posted"),
        ),
        Case("no such document", expect(403, **each(READERS, 404)), args=lambda w: {"pk": MISSING}),
    ],
    "inventory:document_edit": [
        Case(
            "一号仓库's draft",
            expect(403, admin=200, keeper=200, keeper_idle=404),
            args=pk("w1_draft"),
        ),
        Case(
            "二号仓库's draft (guessed id)",
            expect(403, admin=200, keeper=404, keeper_idle=404),
            args=pk("w2_draft"),
        ),
        Case(
            "一号仓库's posted receipt (back to it: posted documents are not edited)",
            expect(403, admin=REDIRECT, keeper=REDIRECT, keeper_idle=404),
            args=pk("w1_posted"),
        ),
        Case(
            "change 一号仓库's draft",
            expect(403, admin=REDIRECT, keeper=REDIRECT, keeper_idle=404),
            method="POST",
            args=pk("w1_draft"),
            data=lambda w: _receipt(w, w.w1, "改过的草稿"),
            done=_saved("改过的草稿"),
        ),
        Case(
            "change 二号仓库's draft",
            expect(403, admin=REDIRECT, keeper=404, keeper_idle=404),
            method="POST",
            args=pk("w2_draft"),
            data=lambda w: _receipt(w, w.w2, "改过的草稿"),
            done=_saved("改过的草稿"),
        ),
    ],
    "inventory:document_post": [
        Case("GET", POST_ONLY, args=pk("w1_draft")),
        Case(
            "post 一号仓库's draft",
            expect(403, admin=REDIRECT, keeper=REDIRECT, keeper_idle=404),
            method="POST",
            args=pk("w1_draft"),
            done=document_status("w1_draft", Document.Status.POSTED),
        ),
        Case(
            "post 二号仓库's draft",
            expect(403, admin=REDIRECT, keeper=404, keeper_idle=404),
            method="POST",
            args=pk("w2_draft"),
            done=document_status("w2_draft", Document.Status.POSTED),
        ),
    ],
    "inventory:document_reverse": [
        Case("GET", POST_ONLY, args=pk("w1_posted")),
        Case(
            "reverse 一号仓库's receipt",
            expect(403, admin=REDIRECT, keeper=REDIRECT, keeper_idle=404),
            method="POST",
            args=pk("w1_posted"),
            data=lambda w: {"reason": "录入错误"},
            done=document_status("w1_posted", Document.Status.REVERSED),
        ),
        Case(
            "reverse 二号仓库's receipt",
            expect(403, admin=REDIRECT, keeper=404, keeper_idle=404),
            method="POST",
            args=pk("w2_posted"),
            data=lambda w: {"reason": "录入错误"},
            done=document_status("w2_posted", Document.Status.REVERSED),
        ),
    ],
    "inventory:document_delete": [
        Case("GET", POST_ONLY, args=pk("w1_draft")),
        Case(
            "delete 一号仓库's draft",
            expect(403, admin=REDIRECT, keeper=REDIRECT, keeper_idle=404),
            method="POST",
            args=pk("w1_draft"),
            done=lambda w, user: not Document.objects.filter(pk=w.w1_draft.pk).exists(),
        ),
        Case(
            "delete 二号仓库's draft",
            expect(403, admin=REDIRECT, keeper=404, keeper_idle=404),
            method="POST",
            args=pk("w2_draft"),
            done=lambda w, user: not Document.objects.filter(pk=w.w2_draft.pk).exists(),
        ),
        Case(
            "delete 一号仓库's posted receipt",
            expect(403, admin=BOUNCED, keeper=BOUNCED, keeper_idle=404),
            method="POST",
            args=pk("w1_posted"),
        ),
    ],
    "inventory:document_pdf": [
        Case(
            "一号仓库's receipt",
            expect(403, **each(READERS, 200, keeper_idle=404)),
            args=pk("w1_posted"),
        ),
        Case(
            "二号仓库's receipt (guessed id)",
            expect(403, **each(ALL_SCOPE, 200, keeper=404, keeper_idle=404)),
            args=pk("w2_posted"),
        ),
        Case("a draft (no PDF)", expect(403, **each(READERS, 404)), args=pk("w1_draft")),
    ],
    "inventory:api_issue": [
        Case("GET", expect(405, anonymous=405)),
        Case(
            "issue toner from 一号仓库",
            expect(403, anonymous=401, admin=200, keeper=200),
            method="POST",
            data=lambda w: {
                "warehouse": w.w1.pk,
                "person": w.persons["employee"].pk,
                "barcode": w.toner.barcode,
                "quantity": "1",
                "reason": "扫码出库",
            },
            done=_saved("扫码出库", Document.Status.POSTED),
        ),
        Case(
            "issue toner from 二号仓库 (not the keeper's)",
            expect(403, anonymous=401, admin=200),
            method="POST",
            data=lambda w: {
                "warehouse": w.w2.pk,
                "person": w.persons["employee"].pk,
                "barcode": w.toner.barcode,
                "quantity": "1",
                "reason": "别人的库",
            },
            done=_saved("别人的库", Document.Status.POSTED),
        ),
    ],
    # --- Requisitions -----------------------------------------------------------------------
    "me:requisitions": [
        Case("my requisitions", expect(200, norole=403)),
        Case(
            "request toner",
            expect(REDIRECT, norole=403),
            method="POST",
            data=lambda w: {
                "action": "submit",
                "for_whom": "me",
                "reason": "角色测试领用",
                "q": "",
                "line_item": w.toner.pk,
                "line_quantity": "1",
            },
            done=lambda w, user: Requisition.objects.filter(
                requester__user=user, reason="角色测试领用"
            ).exists(),
        ),
    ],
    "me:requisition_items": [
        Case("the item picker", expect(200, norole=403), query=lambda w: {"q": "硒鼓"})
    ],
    "inventory:requisition_detail": [
        Case("the employee's", expect(200, norole=404), args=pk("req_mine")),
        Case(
            "市场部's (guessed id)",
            expect(200, norole=404, employee=404, dept_head=404),
            args=pk("req_sales"),
        ),
        Case("no such requisition", expect(404), args=lambda w: {"pk": MISSING}),
    ],
    "inventory:requisition_approvals": [
        Case("to decide", expect(403, admin=200, dept_head=200)),
    ],
    "inventory:requisition_decide": [
        Case("the employee's", expect(404, admin=200, dept_head=200), args=pk("req_mine")),
        Case("市场部's", expect(404, admin=200), args=pk("req_sales")),
        Case("an approved one", expect(404), args=pk("req_approved")),
        Case(
            "approve the employee's",
            expect(404, admin=REDIRECT, dept_head=REDIRECT),
            method="POST",
            args=pk("req_mine"),
            data=lambda w: {"decision": "approve", "comment": ""},
            done=state_of("req_mine", Requisition.State.APPROVED),
        ),
        Case(
            "approve 市场部's",
            expect(404, admin=REDIRECT),
            method="POST",
            args=pk("req_sales"),
            data=lambda w: {"decision": "approve", "comment": ""},
            done=state_of("req_sales", Requisition.State.APPROVED),
        ),
    ],
    "inventory:requisition_cancel": [
        Case("GET", POST_ONLY, args=pk("req_mine")),
        Case(
            "withdraw the employee's submitted one",
            expect(403, norole=404, employee=REDIRECT),
            method="POST",
            args=pk("req_mine"),
            done=state_of("req_mine", Requisition.State.CANCELLED),
        ),
        Case(
            "close the employee's approved one",
            expect(
                403,
                norole=404,
                employee=REDIRECT,
                admin=REDIRECT,
                **each("keeper keeper_idle", REDIRECT),
            ),
            method="POST",
            args=pk("req_approved"),
            done=state_of("req_approved", Requisition.State.CANCELLED),
        ),
        Case(
            "withdraw 市场部's (guessed id)",
            expect(403, norole=404, employee=404, dept_head=404),
            method="POST",
            args=pk("req_sales"),
        ),
    ],
    "inventory:requisition_queue": [Case("to issue", expect(403, admin=200, keeper=200))],
    "inventory:requisition_fulfil": [
        Case("the approved one", expect(403, admin=200, keeper=200), args=pk("req_approved")),
        Case("a submitted one", expect(403, admin=404, keeper=404), args=pk("req_mine")),
        Case(
            "issue it from 一号仓库",
            expect(403, admin=REDIRECT, keeper=REDIRECT),
            method="POST",
            args=pk("req_approved"),
            data=lambda w: _fulfil(w, w.w1),
            done=state_of("req_approved", Requisition.State.FULLY_ISSUED),
        ),
        Case(
            "issue it from 二号仓库 (not the keeper's)",
            expect(403, admin=REDIRECT, keeper=FORM),
            method="POST",
            args=pk("req_approved"),
            data=lambda w: _fulfil(w, w.w2),
            done=state_of("req_approved", Requisition.State.FULLY_ISSUED),
        ),
    ],
    # --- Stocktakes -------------------------------------------------------------------------
    "inventory:stocktake_list": [Case("the list", expect(403, **each(READERS, 200)))],
    "inventory:stocktake_create": [
        Case("the form", expect(403, admin=200, clerk=200, keeper=200, keeper_idle=200)),
        Case(
            "an asset stocktake of 102",
            expect(403, admin=REDIRECT, clerk=REDIRECT, keeper=FORM, keeper_idle=FORM),
            method="POST",
            data=lambda w: _stocktake_form(
                "新资产盘点", "asset", locations=[w.room2.pk], counters=[w.users["keeper"].pk]
            ),
            done=lambda w, user: Stocktake.objects.filter(name="新资产盘点").exists(),
        ),
        Case(
            "a consumable stocktake of 一号仓库",
            expect(403, admin=REDIRECT, keeper=REDIRECT, clerk=FORM, keeper_idle=FORM),
            method="POST",
            data=lambda w: _stocktake_form(
                "新耗材盘点", "consumable", warehouses=[w.w1.pk], counters=[w.users["keeper"].pk]
            ),
            done=lambda w, user: Stocktake.objects.filter(name="新耗材盘点").exists(),
        ),
        Case(
            "a consumable stocktake of 二号仓库 (not the keeper's)",
            expect(403, admin=REDIRECT, keeper=FORM, clerk=FORM, keeper_idle=FORM),
            method="POST",
            data=lambda w: _stocktake_form(
                "别人的盘点", "consumable", warehouses=[w.w2.pk], counters=[w.users["keeper"].pk]
            ),
            done=lambda w, user: Stocktake.objects.filter(name="别人的盘点").exists(),
        ),
    ],
    "inventory:stocktake_detail": [
        Case(
            "the asset stocktake (the keeper counts it)",
            expect(403, **each(READERS, 200, keeper_idle=404)),
            args=pk("st_asset"),
        ),
        Case("一号仓库's count", expect(403, **each(READERS, 200)), args=pk("st_cons")),
        Case(
            "no such stocktake",
            expect(403, **each(READERS, 404)),
            args=lambda w: {"pk": MISSING},
        ),
    ],
    "inventory:stocktake_edit": [
        Case(
            "the asset draft",
            expect(403, admin=200, clerk=200, keeper_idle=404),
            args=pk("st_draft"),
        ),
        Case(
            "二号仓库's draft (not the keeper's)",
            expect(403, admin=200),
            args=pk("st_cons_draft"),
        ),
        Case("the closed one", expect(403, keeper_idle=404), args=pk("st_closed")),
        Case(
            "rename the asset draft",
            expect(403, admin=REDIRECT, clerk=REDIRECT, keeper_idle=404),
            method="POST",
            args=pk("st_draft"),
            data=lambda w: _stocktake_form(
                "改名的盘点", "asset", locations=[w.room2.pk], counters=[w.users["keeper"].pk]
            ),
            done=lambda w, user: Stocktake.objects.get(pk=w.st_draft.pk).name == "改名的盘点",
        ),
        Case(
            "rename 二号仓库's count (not the keeper's)",
            expect(403, admin=REDIRECT),
            method="POST",
            args=pk("st_cons_w2"),
            data=lambda w: _stocktake_form(
                "改名的盘点", "consumable", counters=[w.users["other_keeper"].pk]
            ),
            done=lambda w, user: Stocktake.objects.get(pk=w.st_cons_w2.pk).name == "改名的盘点",
        ),
    ],
    "inventory:stocktake_start": [
        Case("GET", POST_ONLY, args=pk("st_draft")),
        Case(
            "start the asset draft",
            expect(403, admin=REDIRECT, clerk=REDIRECT, keeper_idle=404),
            method="POST",
            args=pk("st_draft"),
            done=stocktake_status("st_draft", Stocktake.Status.COUNTING),
        ),
        Case(
            "start 二号仓库's draft (not the keeper's)",
            expect(403, admin=REDIRECT),
            method="POST",
            args=pk("st_cons_draft"),
            done=stocktake_status("st_cons_draft", Stocktake.Status.COUNTING),
        ),
    ],
    "inventory:stocktake_close": [
        Case("GET", POST_ONLY, args=pk("st_asset")),
        Case(
            "close the asset stocktake",
            expect(403, admin=REDIRECT, clerk=REDIRECT, keeper_idle=404),
            method="POST",
            args=pk("st_asset"),
            done=stocktake_status("st_asset", Stocktake.Status.CLOSED),
        ),
        Case(
            "close 一号仓库's count",
            expect(403, admin=REDIRECT, keeper=REDIRECT),
            method="POST",
            args=pk("st_cons"),
            done=stocktake_status("st_cons", Stocktake.Status.CLOSED),
        ),
        Case(
            "close 二号仓库's count (not the keeper's)",
            expect(403, admin=REDIRECT),
            method="POST",
            args=pk("st_cons_w2"),
            done=stocktake_status("st_cons_w2", Stocktake.Status.CLOSED),
        ),
        Case(
            "close the draft (not counting)",
            expect(403, admin=BOUNCED, clerk=BOUNCED, keeper_idle=404),
            method="POST",
            args=pk("st_draft"),
        ),
    ],
    "inventory:stocktake_delete": [
        Case("GET", POST_ONLY, args=pk("st_draft")),
        Case(
            "delete the asset draft",
            expect(403, admin=REDIRECT, clerk=REDIRECT, keeper_idle=404),
            method="POST",
            args=pk("st_draft"),
            done=lambda w, user: not Stocktake.objects.filter(pk=w.st_draft.pk).exists(),
        ),
        Case(
            "delete 二号仓库's draft (not the keeper's)",
            expect(403, admin=REDIRECT),
            method="POST",
            args=pk("st_cons_draft"),
            done=lambda w, user: not Stocktake.objects.filter(pk=w.st_cons_draft.pk).exists(),
        ),
        Case(
            "delete the counting asset stocktake",
            expect(403, admin=BOUNCED, clerk=BOUNCED, keeper_idle=404),
            method="POST",
            args=pk("st_asset"),
        ),
    ],
    "inventory:stocktake_scan": [
        Case("the scanning page", expect(403, keeper=200, keeper_idle=404), args=pk("st_asset")),
        Case(
            "scan R-1 (the page's script)",
            expect(403, keeper=200),
            method="POST",
            args=pk("st_asset"),
            data=lambda w: _scan_data(w, SCAN_JSON),
            headers=JSON,
            done=_scanned(SCAN_JSON),
        ),
        Case(
            "scan R-1 (a plain form)",
            expect(403, keeper=200, keeper_idle=404),
            method="POST",
            args=pk("st_asset"),
            data=lambda w: _scan_data(w, SCAN_FORM),
            done=_scanned(SCAN_FORM),
        ),
        Case(
            "scan into the closed one (its counter too: not counting any more)",
            expect(403, keeper=400),
            method="POST",
            args=pk("st_closed"),
            data=lambda w: _scan_data(w, SCAN_CLOSED),
            headers=JSON,
        ),
        Case(
            "scan into 二号仓库's count (nobody here counts it)",
            expect(403),
            method="POST",
            args=pk("st_cons_w2"),
            data=lambda w: _scan_data(w, SCAN_OTHER),
            headers=JSON,
        ),
        Case(
            "scan into no such stocktake",
            expect(403),
            method="POST",
            args=lambda w: {"pk": MISSING},
            data=lambda w: _scan_data(w, SCAN_MISSING),
            headers=JSON,
        ),
    ],
    "inventory:stocktake_confirm_holder": [
        Case("GET", POST_ONLY, args=pk("st_asset")),
        Case(
            "E-1 is used by the 市场部 person",
            expect(403, keeper=200),
            method="POST",
            args=pk("st_asset"),
            data=lambda w: {"line": w.lines["E-1"].pk, "holder": w.persons["sales"].employee_no},
            headers=JSON,
            done=lambda w, user: (
                StocktakeExpected.objects.get(pk=w.lines["E-1"].pk).observed_holder_id
                == w.persons["sales"].pk
            ),
        ),
    ],
    "inventory:stocktake_report": [
        Case(
            "the closed one",
            expect(403, **each(READERS, 200, keeper_idle=404)),
            args=pk("st_closed"),
        ),
        Case(
            "the counting one (no report yet)",
            expect(403, **each(READERS, 404)),
            args=pk("st_asset"),
        ),
        Case(
            "a consumable one (its count sheets instead)",
            expect(403, **each(READERS, REDIRECT)),
            args=pk("st_cons"),
        ),
    ],
    "inventory:stocktake_report_xlsx": [
        Case(
            "the closed one",
            expect(403, **each(READERS, 200, keeper_idle=404)),
            args=pk("st_closed"),
        ),
        Case("the counting one", expect(403, **each(READERS, 404)), args=pk("st_asset")),
    ],
    "inventory:stocktake_report_pdf": [
        Case(
            "the closed one",
            expect(403, **each(READERS, 200, keeper_idle=404)),
            args=pk("st_closed"),
        ),
        Case("the counting one", expect(403, **each(READERS, 404)), args=pk("st_asset")),
    ],
    "inventory:stocktake_apply": [
        Case("GET", POST_ONLY, args=pk("st_closed")),
        Case(
            "apply the closed one",
            expect(403, admin=REDIRECT, clerk=REDIRECT),
            method="POST",
            args=pk("st_closed"),
            done=stocktake_status("st_closed", Stocktake.Status.APPLIED),
        ),
    ],
    "inventory:stocktake_sheets": [
        Case("一号仓库's count", expect(404, **each(READERS, 200)), args=pk("st_cons")),
        Case("an asset stocktake (no sheets)", expect(404), args=pk("st_asset")),
    ],
    "inventory:countsheet_detail": [
        Case(
            "一号仓库's sheet",
            expect(404, **each(READERS, 200)),
            args=_sheet("st_cons", "sheet_w1"),
        ),
        Case(
            "二号仓库's sheet under 一号仓库's count",
            expect(404),
            args=_sheet("st_cons", "sheet_w2"),
        ),
    ],
    "inventory:countsheet_scan": [
        Case("GET", POST_ONLY, args=_sheet("st_cons", "sheet_w1")),
        Case(
            "scan toner on 一号仓库's sheet",
            expect(404, admin=REDIRECT, keeper=REDIRECT, **each("clerk keeper_idle auditor", 403)),
            method="POST",
            args=_sheet("st_cons", "sheet_w1"),
            data=lambda w: {"code": w.toner.barcode, "scan_id": str(SHEET_SCAN_W1)},
            done=_counted("sheet_w1", "toner", "11"),
        ),
        Case(
            "scan toner on 二号仓库's sheet (not the keeper's)",
            expect(404, admin=REDIRECT, **each("clerk keeper keeper_idle auditor", 403)),
            method="POST",
            args=_sheet("st_cons_w2", "sheet_w2"),
            data=lambda w: {"code": w.toner.barcode, "scan_id": str(SHEET_SCAN_W2)},
            done=_counted("sheet_w2", "toner", "6"),
        ),
    ],
    "inventory:countline_set": [
        Case("GET", POST_ONLY, args=_count_line("st_cons", "sheet_w1", "toner")),
        Case(
            "count toner on 一号仓库's sheet",
            expect(404, admin=REDIRECT, keeper=REDIRECT, **each("clerk keeper_idle auditor", 403)),
            method="POST",
            args=_count_line("st_cons", "sheet_w1", "toner"),
            data=lambda w: {"counted": "7"},
            done=_counted("sheet_w1", "toner", "7"),
        ),
        Case(
            "count toner on 二号仓库's sheet (not the keeper's)",
            expect(404, admin=REDIRECT, **each("clerk keeper keeper_idle auditor", 403)),
            method="POST",
            args=_count_line("st_cons_w2", "sheet_w2", "toner"),
            data=lambda w: {"counted": "7"},
            done=_counted("sheet_w2", "toner", "7"),
        ),
    ],
    "inventory:stocktake_confirm_requests": [
        Case(
            "the asset stocktake",
            expect(403, **each(READERS, 200, keeper_idle=404)),
            args=pk("st_asset"),
        ),
        Case(
            "a consumable one (no confirmations)",
            expect(403, **each(READERS, 404)),
            args=pk("st_cons"),
        ),
        Case(
            "ask the holders",
            expect(403, admin=REDIRECT, clerk=REDIRECT),
            method="POST",
            args=pk("st_asset"),
            done=lambda w, user: (
                StocktakeExpected.objects.get(pk=w.lines["S-2"].pk).confirm_requested_at is not None
            ),
        ),
    ],
    "inventory:stocktake_confirm_photo": [
        Case(
            "the employee's photo",
            expect(404, employee=200, **each(READERS, 200, keeper_idle=404)),
            args=_photo("st_asset", "E-1"),
        ),
        Case(
            "市场部's photo",
            expect(404, **each(READERS, 200, keeper_idle=404)),
            args=_photo("st_asset", "S-1"),
        ),
        Case("under another stocktake", expect(404), args=_photo("st_closed", "E-1")),
    ],
    "me:stocktake_confirmations": [Case("what I am asked", expect(200, norole=403))],
    "me:stocktake_confirm": [
        Case("GET", POST_ONLY, args=_line("E-2")),
        Case(
            "I have E-2",
            expect(404, norole=403, employee=REDIRECT),
            method="POST",
            args=_line("E-2"),
            data=lambda w: {"note": "在我这"},
            done=lambda w, user: (
                StocktakeExpected.objects.get(pk=w.lines["E-2"].pk).method
                == StocktakeExpected.Method.SELF
            ),
        ),
        Case(
            "I have S-2 (市场部's, guessed id)",
            expect(404, norole=403),
            method="POST",
            args=_line("S-2"),
            data=lambda w: {"note": "在我这"},
        ),
    ],
}


# --- The URLs, from the resolver ------------------------------------------------------------


URLS = app_urls("inventory")


def test_the_table_names_only_urls_that_exist():
    stale = sorted(set(EXPECTATIONS) - set(URLS))
    assert not stale, f"EXPECTATIONS lists URLs the resolver does not have: {stale}"


def test_the_walk_finds_the_inventory_and_me_pages():
    # The resolver walk itself: a broken walk would make the table test vacuous.
    for name in ("inventory:item_list", "inventory:stocktake_scan", "me:requisitions"):
        assert name in URLS
    assert URLS["me:stocktake_confirmations"] == "/me/stocktake-confirmations/"
    assert {name.split(":")[0] for name in URLS} == {"inventory", "me"}
    assert "me:assets" not in URLS  # the assets app's own /me/ pages are its table's


# --- The test -------------------------------------------------------------------------------


def snapshot() -> dict:
    """Every row the inventory views may write (what a refused request must leave alone)."""

    def rows(model, *fields):
        return list(model.objects.order_by("pk").values_list("pk", *fields))

    return {
        "documents": rows(Document, "status", "reason", "warehouse"),
        "document_lines": rows(DocumentLine, "quantity"),
        "ledger": LedgerEntry.objects.count(),
        "stock": rows(Stock, "quantity", "value"),
        "requisitions": rows(Requisition, "state", "decided_by"),
        "requisition_lines": rows(RequisitionLine, "issued_quantity"),
        "stocktakes": rows(Stocktake, "status", "name"),
        "counters": rows(StocktakeCounter, "user", "location"),
        "expected": rows(
            StocktakeExpected,
            "result",
            "method",
            "observed_holder",
            "confirm_requested_at",
            "applied_action",
        ),
        "scans": StocktakeScan.objects.count(),
        "sheets": rows(CountSheet, "status"),
        "count_lines": rows(CountLine, "counted_quantity"),
        "assets": rows(Asset, "status", "holder", "location"),
    }


def _answer(response) -> object:
    if response.status_code == 302:
        login = resolve_url(django_settings.LOGIN_URL)
        return LOGIN if response["Location"].startswith(login) else REDIRECT
    return response.status_code


def _matches(got, wanted) -> bool:
    return got == (wanted.status if isinstance(wanted, Refused) else wanted)


def _run(client: Client, world: World, role: str, user, name: str, case: Case) -> list[str]:
    """Make the request in a savepoint that is rolled back; return what went wrong."""
    url = reverse(name, kwargs=case.args(world))
    wanted = case.expect[role]
    with transaction.atomic():
        before = snapshot() if case.method == "POST" else None
        try:
            if case.method == "POST":
                data = {"csrfmiddlewaretoken": CSRF_TOKEN, **case.data(world)}
                response = client.post(url, data, **(case.headers or {}))
            else:
                response = client.get(url, case.query(world), **(case.headers or {}))
            if response.streaming:  # read it: the client's wrapper then closes it safely
                b"".join(response.streaming_content)
            got = _answer(response)
        except Exception as exc:  # a server error: an answer to report, like the others
            got = f"500 ({type(exc).__name__}: {exc})"
        problems = []
        if not _matches(got, wanted):
            problems.append(f"{case.method} {url} ({case.label}): expected {wanted!r}, got {got}")
        elif case.method == "POST":
            accepted = not isinstance(wanted, Refused) and wanted in (200, REDIRECT)
            if accepted and case.done is not None and not case.done(world, user):
                problems.append(f"POST {url} ({case.label}): answered {got} but did nothing")
            elif not accepted and snapshot() != before:
                problems.append(f"POST {url} ({case.label}): refused with {got} but changed data")
        transaction.set_rollback(True)
    return problems


def _client(world: World, role: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = CSRF_TOKEN
    if role != "anonymous":
        client.cookies[django_settings.SESSION_COOKIE_NAME] = world.sessions[role]
    return client


def _params():
    """(role, URL, None): the URL's cases for the role, but the known bugs; (role, URL, i):
    case i alone, a known bug for the role, expected to fail."""
    for name in sorted(URLS):
        for role in ROLES:
            yield pytest.param(role, name, None, id=f"{role}-{name}")
            for index, case in enumerate(EXPECTATIONS.get(name, [])):
                reason = (case.bugs or {}).get(role)
                if reason:
                    yield pytest.param(
                        role,
                        name,
                        index,
                        id=f"{role}-{name}-known-bug-{index}",
                        marks=pytest.mark.xfail(strict=True, reason=reason),
                    )


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "name", "bug"), list(_params()))
def test_role_gets_the_expected_answer_on_every_url(world, role, name, bug):
    cases = EXPECTATIONS.get(name)
    if not cases:
        pytest.fail(
            f"{name} ({URLS[name]}) has no entry in EXPECTATIONS of {__name__}: add a Case "
            "with the answer every role gets (and a POST case if it writes)",
            pytrace=False,
        )
    if bug is None:
        cases = [case for case in cases if role not in (case.bugs or {})]
    else:
        cases = [cases[bug]]
    # given
    client = _client(world, role)
    user = world.users.get(role)
    # when / then
    problems = [p for case in cases for p in _run(client, world, role, user, name, case)]
    assert not problems, f"role {role}:\n  " + "\n  ".join(problems)
