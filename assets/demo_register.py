"""The demo register for ``manage.py seed_demo --assets N``: N assets, fast at 200,000.

:func:`seed_assets` tops the register up to N assets (it counts every asset, also those users
created, and never deletes): a second run with the same N adds nothing, a larger N adds the
difference. Call it after :func:`assets.demo.seed_demo` and
:func:`assets.demo_catalog.seed_catalog`.

Demo asset number *i* is a pure function of the seed, *i*, the reference data and the day
(:func:`asset_row`, no database). The numbers come from a counter of their own (the
``TagSequence`` row ``demo:asset``), so a top-up continues with new numbers and serial
numbers; serial numbers are unique per manufacturer because *i* is. Tags come from the tag
sequence (``asset_tags_allocate``), so assets created later continue after the seeded ones.
Dates are relative to the day of the run (the demo always looks current): the same seed on
the same day, on an empty database, gives the same data.

Statuses come in the proportions of a mature register, by kind of equipment, and each asset
is placed as the lifecycle would have left it:

- in use: a holder, the holder's department and office (printers and projectors: a
  department and a room; servers and network: the IT operations group, the server room);
- on loan: a holder and a due date (about a quarter overdue); lost: where it was used;
- in repair: an open ``RepairOrder`` (in repair, numbered ``WX-yyyymmdd-nnnn``, remembering
  the status before: in use, keeping its holder, or in stock);
- in stock: a warehouse; pending disposal: a warehouse and its disposal ``ApprovalRequest``
  with the steps of ``APPROVAL_STEPS`` (80 % approved, so ``dispose`` can proceed; the rest
  pending); disposed: ``disposed_on`` and no holder; ordered: no place yet.

Writes are multi-row INSERTs of value tuples (``itassets.importing.bulk``, as the importer
does), 10,000 assets per transaction: an interrupted run keeps what it committed and the next
run tops up. Seeding is not the lifecycle: it writes ``status`` directly (listed in the lint's
ALLOWED in assets/tests/test_lifecycle.py) and sends no signals. Each asset gets one
``AssetEvent`` "import" (the timeline shows "Imported" with its status); no simple-history
rows are written (as the importer).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from itassets.importing.bulk import ids_by, insert_columns
from itassets.roles import CLERK, DEPT_HEAD

from .demo import DEMO_USERS, employee_no
from .demo_catalog import MANUFACTURERS, MODELS, SUPPLIERS
from .lifecycle import Status
from .models import (
    ApprovalRequest,
    ApprovalStep,
    Asset,
    AssetEvent,
    AssetModel,
    Department,
    Location,
    Person,
    RepairOrder,
    Supplier,
)
from .selectors import DASHBOARD_CACHE_KEY
from .services.approvals import approval_step_roles
from .services.lifecycle import REPAIR_PREFIX
from .services.register import _add_months, _sequence_advance, asset_tags_allocate

DEFAULT_ASSETS = 300
BATCH = 10_000  # assets per transaction
DEMO_COUNTER = "demo:asset"  # TagSequence row: the last demo asset number handed out

S = Status
PERSONAL, SHARED, INFRA = "personal", "shared", "infra"
# Category code → (kind of equipment, how many of it the register holds, relative).
CATEGORY_MIX = {
    "PC-LAPTOP": (PERSONAL, 30),
    "PC-DESKTOP": (PERSONAL, 14),
    "OFFICE-MONITOR": (PERSONAL, 22),
    "MOBILE-PHONE": (PERSONAL, 8),
    "MOBILE-TABLET": (PERSONAL, 3),
    "OFFICE-PRINTER": (SHARED, 4),
    "OFFICE-PROJECTOR": (SHARED, 2),
    "PC-SERVER": (INFRA, 3),
    "NET-SWITCH": (INFRA, 4),
    "NET-FW": (INFRA, 1),
    "NET-AP": (INFRA, 9),
}
# Status mix of a mature register, by kind of equipment (relative weights).
STATUS_MIX = {
    PERSONAL: {
        S.IN_USE: 60,
        S.IN_STOCK: 14,
        S.ON_LOAN: 5,
        S.IN_REPAIR: 3,
        S.PENDING_DISPOSAL: 3,
        S.DISPOSED: 10,
        S.LOST: 1,
        S.ORDERED: 4,
    },
    SHARED: {
        S.IN_USE: 66,
        S.IN_STOCK: 12,
        S.ON_LOAN: 4,
        S.IN_REPAIR: 4,
        S.PENDING_DISPOSAL: 3,
        S.DISPOSED: 8,
        S.ORDERED: 3,
    },
    INFRA: {
        S.IN_USE: 76,
        S.IN_STOCK: 8,
        S.IN_REPAIR: 2,
        S.PENDING_DISPOSAL: 2,
        S.DISPOSED: 7,
        S.ORDERED: 5,
    },
}
# Office of each department (by code; others: the open-plan office); see demo.LOCATIONS.
OFFICE_BY_DEPARTMENT = {
    "HQ-ADM": "BJ-A-101",
    "HQ-RD": "BJ-A-303",
    "HQ-RD-DEV1": "BJ-A-303",
    "HQ-RD-DEV2": "BJ-A-303",
    "HQ-RD-QA": "BJ-A-303",
    "HQ-SALES-E": "SH-ZJ-501",
}
DEFAULT_OFFICE = "BJ-A-302"
SERVER_ROOM, MEETING_ROOM = "BJ-B-201", "BJ-A-301"
INFRA_DEPARTMENT = "HQ-IT-OPS"
# Departments that keep printers and projectors.
SHARED_DEPARTMENTS = (
    "HQ-ADM",
    "HQ-FIN",
    "HQ-HR",
    "HQ-IT-OPS",
    "HQ-RD-DEV1",
    "HQ-RD-DEV2",
    "HQ-RD-QA",
    "HQ-RD-PM",
    "HQ-SALES-N",
    "HQ-SALES-E",
)
WAREHOUSE_WEIGHTS = {"WH-MAIN": 5, "WH-SPARE": 1}
# The first demo assets: a laptop for each demo user, a monitor and a phone for the employee,
# so that every role has assets of its own to look at.
SHOWCASE = (
    ("E0001", "PC-LAPTOP"),
    ("E0002", "PC-LAPTOP"),
    ("E0003", "PC-LAPTOP"),
    ("E0004", "PC-LAPTOP"),
    ("E0005", "PC-LAPTOP"),
    ("E0006", "PC-LAPTOP"),
    ("E0005", "OFFICE-MONITOR"),
    ("E0005", "MOBILE-PHONE"),
)
FAULTS = (
    "无法开机",
    "屏幕闪烁，出现横纹",
    "键盘部分按键失灵",
    "电池鼓包，续航不足一小时",
    "硬盘异响，系统频繁蓝屏",
    "风扇噪音大，机身过热",
    "卡纸，打印有黑线",
    "电源模块告警",
)
DISPOSAL_REASONS = (
    "已超过使用年限，性能无法满足办公需要",
    "维修费用高于残值，申请报废",
    "主板损坏，无维修价值",
)
NOTES = ("含扩展坞", "外壳有划痕", "已加装内存", "配件齐全", "原包装保留")
# Serial numbers: the manufacturer's style around six symbols that differ for every number.
SERIAL_STYLE = {
    "联想": ("PF", ""),
    "戴尔": ("", "2"),
    "华为": ("2102351", "K8"),
    "苹果": ("C02", "MD6"),
    "惠普": ("CNB", "W"),
    "浪潮": ("2Y", "218"),
    "华三": ("219801A", "3J"),
    "深信服": ("SF", "06"),
    "飞利浦": ("UK0", "A"),
    "佳能": ("XKA", ""),
    "爱普生": ("X4Y", "L"),
}
SERIAL_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTVWXY"  # 32 symbols: no I, O, U, Z
SERIAL_BITS = 30  # six symbols of five bits
SERIAL_MULTIPLIER = 0x2545F491  # odd, so i → i × m mod 2**30 is a permutation


def serial_code(number: int) -> str:
    """Six symbols, different for every number below 2**30 (scrambled, not counting up)."""
    n = (number * SERIAL_MULTIPLIER + 0x1F2E3D) % (1 << SERIAL_BITS)
    symbols = []
    for _ in range(6):
        n, r = divmod(n, 32)
        symbols.append(SERIAL_ALPHABET[r])
    return "".join(symbols)


def imei(rng: random.Random, tac: str) -> str:
    """A 15-digit IMEI with a valid Luhn check digit."""
    body = tac + "".join(str(rng.randrange(10)) for _ in range(14 - len(tac)))
    total = 0
    for i, ch in enumerate(body):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


# --- Asset rows (pure) ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRef:
    id: int
    category_id: int
    category: str  # code
    manufacturer_id: int
    manufacturer: str  # name
    name: str
    cost: tuple[int, int]
    warranty_months: int
    custom: dict


@dataclass(frozen=True)
class Refs:
    """What the demo assets point at (ids), in a deterministic order."""

    models: dict[str, list[ModelRef]]  # by category code
    people: list[tuple[int, int, str]]  # (person id, department id, department code)
    people_by_no: dict[str, tuple[int, int, str]]  # by employee number
    locations: dict[str, int]  # by code
    departments: dict[str, int]  # by code
    shared_departments: list[tuple[int, str]]  # (id, code)
    warehouses: list[int]
    warehouse_weights: list[int]
    suppliers: list[int]
    repair_vendors: list[int]


@dataclass(frozen=True)
class RepairRow:
    sent_on: date
    previous_status: str
    fault: str
    vendor_id: int | None
    expected_cost: Decimal


@dataclass(frozen=True)
class ApprovalRow:
    approved: bool
    requested_on: date
    reason: str


@dataclass(frozen=True)
class AssetRow:
    """One demo asset: the values of ``ASSET_FIELDS`` (but the tag) and its side records."""

    number: int
    model_id: int
    category_id: int
    manufacturer_id: int
    name: str
    serial_number: str
    status: str
    department_id: int | None
    holder_id: int | None
    location_id: int | None
    supplier_id: int | None
    order_number: str
    invoice_number: str
    purchase_date: date
    cost: Decimal
    warranty_end: date
    custom_fields: dict
    notes: str
    due_date: date | None
    disposed_on: date | None
    repair: RepairRow | None = None
    approval: ApprovalRow | None = None


_CATEGORIES = list(CATEGORY_MIX)
_CATEGORY_WEIGHTS = [weight for _kind, weight in CATEGORY_MIX.values()]
# Plain strings (not Status members): the bulk writer formats a column of one type at once.
_STATUS_CHOICES = {
    kind: ([s.value for s in mix], list(mix.values())) for kind, mix in STATUS_MIX.items()
}


def _days_ago(rng: random.Random, today: date, low: int, high: int) -> date:
    return today - timedelta(days=rng.randrange(low, high))


def _warehouse(rng: random.Random, refs: Refs) -> int | None:
    if not refs.warehouses:
        return None
    return rng.choices(refs.warehouses, refs.warehouse_weights)[0]


def _custom(rng: random.Random, model: ModelRef, warranty_end: date, number: int) -> dict:
    """The custom field values: the model's, plus per-asset ones (rack, IP, IMEI)."""
    values = dict(model.custom)
    host = f"{number // 250 % 250}.{number % 250 + 2}"
    if model.category == "PC-SERVER":
        row, rack, unit = "ABCD"[rng.randrange(4)], rng.randrange(1, 13), rng.randrange(1, 41)
        values["rack"] = f"{row}{rack:02d}-U{unit:02d}"
        values["ip_address"] = f"10.10.{host}"
        values["maintenance_end"] = warranty_end.isoformat()
    elif model.category in ("NET-SWITCH", "NET-FW"):
        values["ip_address"] = f"10.0.{host}"
    elif model.category == "MOBILE-PHONE":
        values["imei"] = imei(rng, f"86{model.id % 1000:03d}")
    return values


def asset_row(number: int, *, seed: int, refs: Refs, today: date) -> AssetRow:
    """Demo asset ``number`` (from 1): the same for a seed, reference data and day."""
    # Demo data, not security: a reproducible generator per asset is the point.
    rng = random.Random(f"itassets-demo:{seed}:asset:{number}")  # noqa: S311
    owner = None
    if number <= len(SHOWCASE):
        employee, category = SHOWCASE[number - 1]
        owner = refs.people_by_no.get(employee)
    if owner is None:
        category = rng.choices(_CATEGORIES, _CATEGORY_WEIGHTS)[0]
    models = refs.models[category]
    model = models[rng.randrange(len(models))]
    kind = CATEGORY_MIX[category][0]
    statuses, weights = _STATUS_CHOICES[kind]
    status = S.IN_USE.value if owner is not None else rng.choices(statuses, weights)[0]

    # Purchased over six years; what is disposed of or pending disposal is at least 3 years old.
    if status == S.ORDERED:
        purchased = _days_ago(rng, today, 0, 30)
    elif status in (S.DISPOSED, S.PENDING_DISPOSAL):
        purchased = _days_ago(rng, today, 3 * 365, 6 * 365)
    else:
        purchased = _days_ago(rng, today, 30, 6 * 365)
    low, high = model.cost
    cost = Decimal(rng.randrange(low, high + 1))
    warranty_end = _add_months(purchased, model.warranty_months)

    holder_id = department_id = location_id = due = disposed_on = repair = approval = None
    placed_as = status  # in repair: placed as it was before (in use or in stock)
    if status == S.IN_REPAIR:
        placed_as = S.IN_USE.value if rng.random() < 0.7 else S.IN_STOCK.value
        repair = RepairRow(
            sent_on=max(_days_ago(rng, today, 0, 45), purchased),
            previous_status=placed_as,
            fault=rng.choice(FAULTS),
            vendor_id=rng.choice(refs.repair_vendors) if refs.repair_vendors else None,
            expected_cost=Decimal(rng.randrange(2, 40) * 50),
        )
    if placed_as in (S.IN_USE, S.ON_LOAN, S.LOST):
        if kind == INFRA:
            department_id = refs.departments.get(INFRA_DEPARTMENT)
            room = DEFAULT_OFFICE if category == "NET-AP" else SERVER_ROOM
        elif kind == SHARED and placed_as == S.IN_USE:
            department_id, code = refs.shared_departments[
                rng.randrange(len(refs.shared_departments))
            ]
            room = MEETING_ROOM if category == "OFFICE-PROJECTOR" else _office(code)
        else:
            person = owner or refs.people[rng.randrange(len(refs.people))]
            holder_id, department_id, code = person
            room = _office(code)
        location_id = refs.locations.get(room)
        if status == S.ON_LOAN:
            due = today + timedelta(days=rng.randrange(-15, 46))  # about a quarter overdue
    elif placed_as != S.ORDERED:  # in stock, pending disposal, disposed: in a warehouse
        location_id = _warehouse(rng, refs)
        if status == S.DISPOSED:
            earliest = min(_add_months(purchased, 36), today)
            disposed_on = earliest + timedelta(days=rng.randrange((today - earliest).days + 1))
        elif status == S.PENDING_DISPOSAL:
            approval = ApprovalRow(
                approved=rng.random() < 0.8,
                requested_on=max(_days_ago(rng, today, 0, 60), purchased),
                reason=rng.choice(DISPOSAL_REASONS),
            )

    prefix, suffix = SERIAL_STYLE.get(model.manufacturer, ("SN", ""))
    return AssetRow(
        number=number,
        model_id=model.id,
        category_id=model.category_id,
        manufacturer_id=model.manufacturer_id,
        name=model.name,
        serial_number=f"{prefix}{serial_code(number)}{suffix}",
        status=status,
        department_id=department_id,
        holder_id=holder_id,
        location_id=location_id,
        supplier_id=rng.choice(refs.suppliers) if refs.suppliers else None,
        order_number=f"PO{purchased:%Y%m%d}{rng.randrange(1, 1000):03d}",
        invoice_number="" if status == S.ORDERED else str(rng.randrange(10**7, 10**8)),
        purchase_date=purchased,
        cost=cost,
        warranty_end=warranty_end,
        custom_fields=_custom(rng, model, warranty_end, number),
        notes=rng.choice(NOTES) if rng.random() < 0.05 else "",
        due_date=due,
        disposed_on=disposed_on,
        repair=repair,
        approval=approval,
    )


def _office(department_code: str) -> str:
    return OFFICE_BY_DEPARTMENT.get(department_code, DEFAULT_OFFICE)


def asset_rows(*, seed: int, first: int, count: int, refs: Refs, today: date) -> list[AssetRow]:
    """Demo assets ``first`` … ``first + count - 1`` (pure: no database)."""
    return [asset_row(n, seed=seed, refs=refs, today=today) for n in range(first, first + count)]


# --- Writing ----------------------------------------------------------------------------------


def load_refs(*, people: int) -> Refs:
    """The ids the demo assets point at: the demo catalog's models, the first ``people`` demo
    people (at least the demo users' persons), the demo locations and departments, the demo
    suppliers."""
    spec_by_key = {(m.manufacturer, m.number): m for m in MODELS}
    models: dict[str, list[ModelRef]] = defaultdict(list)
    rows = AssetModel.objects.filter(manufacturer__name__in=MANUFACTURERS).values_list(
        "id",
        "category_id",
        "category__code",
        "manufacturer_id",
        "manufacturer__name",
        "name",
        "model_number",
    )
    for pk, category_id, category, maker_id, maker, name, number in sorted(rows):
        spec = spec_by_key.get((maker, number))
        if spec is not None and spec.category == category:
            models[category].append(
                ModelRef(
                    pk,
                    category_id,
                    category,
                    maker_id,
                    maker,
                    name,
                    spec.cost,
                    spec.warranty_months,
                    spec.custom,
                )
            )
    departments = dict(Department.objects.values_list("code", "id"))
    codes = {pk: code for code, pk in departments.items()}
    persons = sorted(
        Person.objects.filter(
            employee_no__in=[employee_no(i) for i in range(1, max(people, len(DEMO_USERS)) + 1)],
            is_active=True,
            department__isnull=False,
        ).values_list("employee_no", "id", "department_id")
    )
    people_by_no = {no: (pk, dept, codes[dept]) for no, pk, dept in persons}
    warehouses = list(
        Location.objects.filter(is_warehouse=True).order_by("code").values_list("code", "id")
    )
    suppliers = dict(Supplier.objects.values_list("name", "id"))
    return Refs(
        models=dict(models),
        people=list(people_by_no.values()),
        people_by_no=people_by_no,
        locations=dict(Location.objects.values_list("code", "id")),
        departments=departments,
        shared_departments=[(departments[c], c) for c in SHARED_DEPARTMENTS if c in departments],
        warehouses=[pk for _code, pk in warehouses],
        warehouse_weights=[WAREHOUSE_WEIGHTS.get(code, 1) for code, _pk in warehouses],
        suppliers=[suppliers[s.name] for s in SUPPLIERS if s.name in suppliers],
        repair_vendors=[suppliers[s.name] for s in SUPPLIERS if s.repairs and s.name in suppliers],
    )


ASSET_FIELDS = (
    "model_id",
    "category_id",
    "manufacturer_id",
    "name",
    "serial_number",
    "status",
    "department_id",
    "holder_id",
    "location_id",
    "supplier_id",
    "order_number",
    "invoice_number",
    "purchase_date",
    "cost",
    "warranty_end",
    "custom_fields",
    "notes",
    "due_date",
    "disposed_on",
)

REPAIR_FIELDS = (
    "number",
    "asset_id",
    "fault",
    "vendor_id",
    "previous_status",
    "reported_at",
    "sent_on",
    "expected_cost",
)
STEP_FIELDS = ("request_id", "number", "role", "decision", "decided_by_id", "decided_at", "comment")


@dataclass
class AssetResult:
    requested: int
    existing: int  # assets in the register before
    created: int = 0
    repairs: int = 0
    approvals: int = 0


@dataclass(frozen=True)
class _Writer:
    """Inserts batches of demo assets with their event, repair order or approval."""

    actor_id: int | None  # the admin user: created the assets, reported repairs, requested
    reviewer_id: int | None  # the clerk user: approved disposals
    seed: int
    now: datetime

    def write(self, rows: list[AssetRow], tags: list[str]) -> tuple[int, int]:
        json_memo: dict[tuple, str] = {}

        def custom_json(values: dict) -> str:
            key = tuple(values.items())
            text = json_memo.get(key)
            if text is None:
                text = json_memo[key] = json.dumps(values, ensure_ascii=False)
            return text

        columns = [[getattr(r, name) for r in rows] for name in ASSET_FIELDS]
        at = ASSET_FIELDS.index("custom_fields")
        columns[at] = [custom_json(v) for v in columns[at]]
        pks = insert_columns(
            Asset,
            ["tag", *ASSET_FIELDS],
            [tags, *columns],
            constants={
                "created_by_id": self.actor_id,
                "updated_by_id": self.actor_id,
                "created_at": self.now,
                "updated_at": self.now,
            },
            encoded=("custom_fields",),
            returning=True,
        )
        if pks is None:  # the database cannot return ids from a multi-row INSERT
            ids = ids_by(Asset, "tag", tags)
            pks = [ids[tag] for tag in tags]
        insert_columns(
            AssetEvent,
            ["asset_id", "to_status"],
            [pks, columns[ASSET_FIELDS.index("status")]],
            constants={
                "transition": "import",
                "from_status": "",
                "actor_id": self.actor_id,
                "occurred_at": self.now,
                "note": "",
                "payload": json.dumps({"demo_seed": self.seed}),
            },
            encoded=("payload",),
        )
        repairs = [(pk, r) for pk, r in zip(pks, rows, strict=True) if r.repair]
        approvals = [(pk, r) for pk, r in zip(pks, rows, strict=True) if r.approval]
        self._repairs(repairs)
        self._approvals(approvals)
        return len(repairs), len(approvals)

    def _repairs(self, repairs: list[tuple[int, AssetRow]]) -> None:
        """Open repair orders, numbered in the daily series of ``repair_number_allocate``."""
        by_day: dict[date, list[tuple[int, AssetRow]]] = defaultdict(list)
        for pk, row in repairs:
            by_day[row.repair.sent_on].append((pk, row))
        values = []
        for day in sorted(by_day):
            group = by_day[day]
            prefix = f"{REPAIR_PREFIX}-{day:%Y%m%d}-"
            last = _sequence_advance(prefix, len(group))
            for n, (pk, row) in enumerate(group, start=last - len(group) + 1):
                r = row.repair
                number = f"{prefix}{n:04d}"
                reported = _at(day, 9)
                values.append(
                    (
                        number,
                        pk,
                        r.fault,
                        r.vendor_id,
                        r.previous_status,
                        reported,
                        day,
                        r.expected_cost,
                    )
                )
        if values:
            insert_columns(
                RepairOrder,
                REPAIR_FIELDS,
                [list(c) for c in zip(*values, strict=True)],
                constants={
                    "state": RepairOrder.State.IN_REPAIR.value,
                    "reported_by_id": self.actor_id,
                    "result": "",
                },
            )

    def _approvals(self, approvals: list[tuple[int, AssetRow]]) -> None:
        """Disposal requests with the steps ``approval_open`` plans for an asset in stock
        (no department, so a department-head step is skipped)."""
        if not approvals:
            return
        plan = list(enumerate(approval_step_roles(), start=1))
        if all(role == DEPT_HEAD for _n, role in plan):
            plan.append((len(plan) + 1, CLERK))
        deciding = next(n for n, role in plan if role != DEPT_HEAD)
        state = ApprovalRequest.State
        requests = [
            (
                pk,
                _at(row.approval.requested_on, 11),
                row.approval.reason,
                state.APPROVED.value if row.approval.approved else state.PENDING.value,
                plan[-1][0] if row.approval.approved else deciding,
                _at(row.approval.requested_on, 16) if row.approval.approved else None,
            )
            for pk, row in approvals
        ]
        insert_columns(
            ApprovalRequest,
            ["asset_id", "requested_at", "reason", "state", "current_step", "decided_at"],
            [list(c) for c in zip(*requests, strict=True)],
            constants={
                "transition": "request_disposal",
                "previous_status": S.IN_STOCK.value,
                "requested_by_id": self.actor_id,
                "payload": "{}",
            },
            encoded=("payload",),
        )
        ids = dict(
            ApprovalRequest.objects.filter(asset_id__in=[r[0] for r in requests]).values_list(
                "asset_id", "id"
            )
        )
        decision = ApprovalStep.Decision
        steps = []
        for pk, _at_time, _reason, request_state, _step, decided_at in requests:
            for number, role in plan:
                if role == DEPT_HEAD:
                    values = (decision.SKIPPED.value, None, None, "")
                elif request_state == state.APPROVED:
                    values = (decision.APPROVED.value, self.reviewer_id, decided_at, "同意报废")
                else:
                    values = (decision.PENDING.value, None, None, "")
                steps.append((ids[pk], number, role, *values))
        insert_columns(
            ApprovalStep,
            STEP_FIELDS,
            [list(c) for c in zip(*steps, strict=True)],
        )


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def _user_id(username: str) -> int | None:
    users = get_user_model().objects.filter(username=username)
    return users.values_list("pk", flat=True).first()


def seed_assets(
    *,
    assets: int,
    seed: int,
    people: int,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AssetResult:
    """Top the register up to ``assets`` assets with demo assets (see the module docstring).

    ``people``: the demo people (the first N employee numbers) who hold them. ``progress`` is
    called with (assets written, assets to write) after each batch.
    """
    existing = Asset.objects.count()
    result = AssetResult(requested=assets, existing=existing)
    missing = assets - existing
    if missing <= 0:
        return result
    refs = load_refs(people=people)
    if not refs.people or any(not refs.models.get(code) for code in CATEGORY_MIX):
        raise ValueError("Seed the demo organisation and catalog before the demo assets.")
    today = today or timezone.localdate()
    writer = _Writer(
        actor_id=_user_id("admin"),
        reviewer_id=_user_id("clerk") or _user_id("admin"),
        seed=seed,
        now=timezone.now(),
    )
    if progress:
        progress(0, missing)
    while result.created < missing:
        size = min(BATCH, missing - result.created)
        with transaction.atomic():
            last = _sequence_advance(DEMO_COUNTER, size)
            rows = asset_rows(seed=seed, first=last - size + 1, count=size, refs=refs, today=today)
            repairs, approvals = writer.write(rows, asset_tags_allocate(count=size))
        result.created += size
        result.repairs += repairs
        result.approvals += approvals
        if progress:
            progress(result.created, missing)
    cache.delete(DASHBOARD_CACHE_KEY)  # the home page's counts
    if connection.vendor == "mysql" and result.created >= BATCH:
        with connection.cursor() as cursor:  # fresh index statistics for the list's plans
            cursor.execute(f"ANALYZE TABLE {connection.ops.quote_name(Asset._meta.db_table)}")
            cursor.fetchall()
    return result
