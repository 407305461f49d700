import hashlib
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from assets import demo, demo_register
from assets.custom_fields import category_schema, validate_values
from assets.demo_catalog import CATALOG_STEPS, CUSTOM_FIELDS, MODELS, SUPPLIERS
from assets.lifecycle import Status
from assets.management.commands import seed_demo as seed_demo_command
from assets.models import (
    ApprovalRequest,
    ApprovalStep,
    Asset,
    AssetEvent,
    AssetModel,
    Category,
    CustomField,
    Department,
    Location,
    Manufacturer,
    Person,
    RepairOrder,
    Supplier,
    TagSequence,
)
from assets.services import approval_decide, asset_create, asset_transition, tag_prefix
from itassets.roles import ROLES, user_role_slugs

USERNAMES = ["admin", "clerk", "keeper", "depthead", "employee", "auditor"]
PASSWORD_LINE = re.compile(r"^\s+\S+\s+(admin|clerk|keeper|depthead|employee|auditor)\s+(\S+)$")


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    return dict(m.groups() for line in output.splitlines() if (m := PASSWORD_LINE.match(line)))


def snapshot() -> dict:
    user_model = get_user_model()
    return {
        "departments": list(Department.objects.values_list("code", "path", "full_name", "head")),
        "locations": list(Location.objects.values_list("code", "path", "full_name")),
        "people": list(
            Person.objects.values_list("employee_no", "name", "department", "phone", "user")
        ),
        "users": list(user_model.objects.values_list("username", "password", "is_superuser")),
        "catalog": [
            list(Category.objects.values_list("code", "path", "full_name", "useful_life_months")),
            list(CustomField.objects.values_list("category__code", "key", "field_type")),
            list(AssetModel.objects.values_list("manufacturer__name", "model_number", "name")),
            list(Supplier.objects.values_list("name", "credit_code")),
        ],
        "assets": register_digest(),
        "records": [
            model.objects.count()
            for model in (AssetEvent, RepairOrder, ApprovalRequest, ApprovalStep)
        ],
    }


def register_digest() -> str:
    """A digest of every asset's (tag, serial number, status, cost), in tag order."""
    rows = Asset.objects.order_by("tag").values_list("tag", "serial_number", "status", "cost")
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def test_seed_demo_creates_the_organisation(db):
    # when
    seed()

    # then the trees are well formed
    assert Department.objects.count() == 15
    assert Location.objects.count() == 18
    assert Department.objects.find_problems() == ([], [], [], [], [])
    assert Location.objects.find_problems() == ([], [], [], [], [])
    assert Department.objects.get(code="HQ-RD-QA").full_name == "总部/研发中心/测试部"
    assert Location.objects.get(code="BJ-A-301").full_name == "北京园区/A座/3层/301会议室"
    assert sorted(Location.objects.filter(is_warehouse=True).values_list("name", flat=True)) == [
        "备件库",
        "总仓库",
    ]
    # and the people
    assert Person.objects.count() == demo.DEFAULT_PEOPLE
    assert list(Person.objects.values_list("employee_no", flat=True)[:3]) == [
        "E0001",
        "E0002",
        "E0003",
    ]
    assert not Person.objects.filter(department=None).exists()


def test_seed_demo_creates_one_linked_user_per_role(db):
    # when
    seed()

    # then
    users = {u.username: u for u in get_user_model().objects.all()}
    assert sorted(users) == sorted(USERNAMES)
    for spec in demo.DEMO_USERS:
        user = users[spec.username]
        assert user_role_slugs(user) >= {spec.role}
        assert user.groups.filter(name=ROLES[spec.role].group).exists()
        assert user.person.employee_no == spec.employee_no
    assert users["admin"].is_superuser
    assert [u for u, obj in users.items() if obj.is_superuser] == ["admin"]
    assert Department.objects.get(name="研发中心").head == users["depthead"].person


def test_seed_demo_prints_working_passwords_once(db):
    # when
    first = seed()
    second = seed()

    # then the first run prints a password per user, and each one works
    passwords = printed_passwords(first)
    assert sorted(passwords) == sorted(USERNAMES)
    assert len(set(passwords.values())) == len(USERNAMES)
    for username, password in passwords.items():
        assert get_user_model().objects.get(username=username).check_password(password)
    # and the second run prints none, says so, and tells how to reset
    assert printed_passwords(second) == {}
    assert "already exist; their passwords are unchanged" in second
    assert "manage.py changepassword" in second
    for password in passwords.values():
        assert password not in second


def test_seed_demo_twice_changes_nothing(db):
    # given
    seed()
    before = snapshot()

    # when
    output = seed()

    # then
    assert snapshot() == before
    for name in ["departments", "locations", "people", *CATALOG_STEPS]:
        assert f"{name}: 0 created, 0 updated" in output
    assert "assets: 0 created; the register already holds 300 (--assets 300)" in output


def test_seed_demo_does_not_reset_a_changed_password(db):
    # given
    seed()
    user = get_user_model().objects.get(username="clerk")
    user.set_password("Chosen-by-the-clerk-2026")
    user.save()

    # when
    seed()

    # then
    user.refresh_from_db()
    assert user.check_password("Chosen-by-the-clerk-2026")


def test_seed_demo_with_more_people_adds_only_the_missing(db):
    # given
    seed("--people", "10")
    first_ten = list(Person.objects.values_list("employee_no", "name", "phone"))

    # when
    output = seed("--people", "15")

    # then
    assert Person.objects.count() == 15
    assert list(Person.objects.values_list("employee_no", "name", "phone")[:10]) == first_ten
    assert "people: 5 created, 0 updated" in output


def test_seed_demo_with_another_seed_updates_the_people_in_place(db):
    # given
    seed("--people", "8")
    ids = list(Person.objects.values_list("pk", flat=True))

    # when
    output = seed("--people", "8", "--seed", "7")

    # then the same rows now hold seed 7's names
    assert list(Person.objects.values_list("pk", flat=True)) == ids
    assert list(Person.objects.values_list("name", flat=True)) == [
        r.name for r in demo.person_rows(seed=7, count=8)
    ]
    assert "people: 0 created, 8 updated" in output
    assert get_user_model().objects.count() == len(USERNAMES)


def test_person_rows_are_deterministic_for_a_seed():
    # when
    first = demo.person_rows(seed=2026, count=30)
    again = demo.person_rows(seed=2026, count=30)
    other = demo.person_rows(seed=2027, count=30)

    # then
    assert first == again
    assert [r.name for r in first] != [r.name for r in other]
    assert [r.employee_no for r in first] == [f"E{i:04d}" for i in range(1, 31)]
    assert demo.person_rows(seed=2026, count=10) == first[:10]
    assert all(2 <= len(r.name) <= 3 for r in first)
    assert all(re.fullmatch(r"1\d{10}", r.phone) for r in first)


def test_person_rows_always_include_the_demo_users_persons():
    # when
    rows = demo.person_rows(seed=1, count=2)

    # then
    assert [r.employee_no for r in rows] == [u.employee_no for u in demo.DEMO_USERS]
    assert rows[3].department == "HQ-RD"
    assert rows[0].email == "admin@example.com"


def test_generated_passwords_are_random():
    assert len({demo.generate_password() for _ in range(50)}) == 50


# --- Catalog and assets (assets/demo_catalog.py, assets/demo_register.py) ---------------------

ALL_STATUSES = sorted(s.value for s in Status)


def user(username: str):
    return get_user_model().objects.get(username=username)


def delete_register() -> None:
    """Remove the assets and the records pointing at them, and restart every sequence (tags,
    repair numbers, demo numbers): the register part of a fresh database."""
    RepairOrder.objects.all().delete()
    Asset.objects.all().delete()  # events and approvals cascade
    TagSequence.objects.all().delete()


def test_seed_demo_creates_the_catalog(db):
    # when
    seed("--people", "6", "--assets", "0", "--items", "0")

    # then a well-formed category tree with accounting defaults
    assert Category.objects.count() == 15
    assert Category.objects.find_problems() == ([], [], [], [], [])
    laptop = Category.objects.get(code="PC-LAPTOP")
    assert (laptop.full_name, laptop.asset_class, laptop.useful_life_months) == (
        "计算机设备/笔记本电脑",
        "fixed",
        36,
    )
    phone = Category.objects.get(code="MOBILE-PHONE")
    assert (phone.asset_class, phone.residual_rate) == ("low_value", 0)
    # and custom fields inherited by the children
    assert CustomField.objects.count() == sum(len(f) for f in CUSTOM_FIELDS.values())
    assert [f.key for f in category_schema(laptop)] == [
        "os",
        "cpu",
        "memory_gb",
        "disk_gb",
        "screen_inch",
    ]
    assert [f.key for f in category_schema(phone)] == ["storage_gb", "imei"]
    # and manufacturers, valid suppliers and one model per spec
    assert Manufacturer.objects.count() == 11
    assert Supplier.objects.count() == len(SUPPLIERS)
    for supplier in Supplier.objects.all():
        supplier.full_clean()  # e.g. the unified social credit codes match the pattern
    assert AssetModel.objects.count() == len(MODELS)
    assert not Asset.objects.exists()


def test_seed_demo_assets_places_each_status_as_the_lifecycle_would(db):
    # when
    output = seed("--people", "20", "--assets", "400", "--items", "0")

    # then N assets, every status, in a realistic mix
    assert "assets: 400 created (" in output
    assert "the register holds 400" in output
    assets = list(Asset.objects.select_related("location", "category", "holder"))
    assert len(assets) == 400
    by_status = {s: [a for a in assets if a.status == s] for s in ALL_STATUSES}
    assert all(by_status.values()), {s: len(a) for s, a in by_status.items()}
    assert 0.5 < len(by_status["in_use"]) / 400 < 0.75
    today = timezone.localdate()
    schemas = {}
    for a in assets:
        # common to all: tag, dates, cost, the creator, valid custom fields
        assert re.fullmatch(r"IT-\d{4}-\d{6}", a.tag)
        assert today - timedelta(days=6 * 366) < a.purchase_date <= today
        assert a.warranty_end > a.purchase_date
        assert a.cost > 0
        assert a.created_by.username == "admin"
        if a.category_id not in schemas:
            schemas[a.category_id] = category_schema(a.category)
        assert validate_values(schemas[a.category_id], a.custom_fields) == a.custom_fields
        # placement by status
        in_warehouse = a.location is not None and a.location.is_warehouse
        if a.status in ("in_use", "lost"):
            assert a.department_id and a.location_id and not in_warehouse, a.tag
        if a.status == "on_loan":
            assert a.holder_id and a.department_id and a.due_date, a.tag
        else:
            assert a.due_date is None, a.tag
        if a.status in ("in_stock", "pending_disposal", "disposed"):
            assert in_warehouse and a.holder_id is None and a.department_id is None, a.tag
        if a.status == "disposed":
            assert a.purchase_date < a.disposed_on <= today
        else:
            assert a.disposed_on is None, a.tag
        if a.status == "ordered":
            assert a.location_id is None and a.holder_id is None and not a.invoice_number
        if a.holder_id:
            assert a.department_id == a.holder.department_id
    # in repair: one open repair order each, remembering the status before
    repairs = RepairOrder.objects.filter(state=RepairOrder.State.IN_REPAIR)
    assert sorted(repairs.values_list("asset__tag", flat=True)) == sorted(
        a.tag for a in by_status["in_repair"]
    )
    for order in repairs.select_related("asset__location"):
        assert order.previous_status in ("in_use", "in_stock")
        assert order.asset.location.is_warehouse == (order.previous_status == "in_stock")
        assert re.fullmatch(r"WX-\d{8}-\d{4}", order.number)
    # pending disposal: a disposal request each, most approved
    approvals = ApprovalRequest.objects.filter(transition="request_disposal")
    assert sorted(approvals.values_list("asset__tag", flat=True)) == sorted(
        a.tag for a in by_status["pending_disposal"]
    )
    assert approvals.filter(state="approved").count() > approvals.filter(state="pending").count()
    assert not ApprovalStep.objects.filter(request__state="approved", decision="pending").exists()
    # one "import" event per asset with its status
    assert AssetEvent.objects.filter(transition="import").count() == 400
    assert not AssetEvent.objects.exclude(to_status=F("asset__status")).exists()
    # the demo employee has assets of their own
    mine = Asset.objects.filter(holder__user__username="employee")
    assert {"PC-LAPTOP", "OFFICE-MONITOR", "MOBILE-PHONE"} <= set(
        mine.values_list("category__code", flat=True)
    )


def test_seed_demo_assets_are_deterministic_for_a_seed(db):
    # given two runs on a fresh register with the same seed
    seed("--people", "10", "--assets", "60", "--items", "0")
    first = register_digest()
    delete_register()
    seed("--people", "10", "--assets", "60", "--items", "0")
    again = register_digest()
    # and one with another seed
    delete_register()
    seed("--people", "10", "--assets", "60", "--items", "0", "--seed", "7")
    other = register_digest()

    # then
    assert first == again
    assert other != first


def test_seed_demo_assets_rerun_tops_up_and_never_duplicates(db):
    # given
    seed("--people", "10", "--assets", "50", "--items", "0")
    first_fifty = list(Asset.objects.order_by("tag").values_list("tag", "serial_number", "cost"))

    # when the same N again, then a larger N
    same = seed("--people", "10", "--assets", "50", "--items", "0")
    more = seed("--people", "10", "--assets", "80", "--items", "0")

    # then the second run adds nothing and the third only the difference
    assert "assets: 0 created; the register already holds 50 (--assets 50)" in same
    assert "assets: 30 created (" in more
    assert Asset.objects.count() == 80
    rows = Asset.objects.order_by("tag").values_list("tag", "serial_number", "cost")
    assert list(rows[:50]) == first_fifty
    prefix, _ = tag_prefix()
    assert TagSequence.objects.get(prefix=prefix).last_value == 80
    assert TagSequence.objects.get(prefix=demo_register.DEMO_COUNTER).last_value == 80


def test_seed_demo_assets_after_a_deletion_use_new_numbers(db):
    # given a seeded register from which an asset was deleted
    seed("--people", "10", "--assets", "30", "--items", "0")
    gone = Asset.objects.exclude(status="in_repair").order_by("tag").first()
    gone.delete()
    serials = set(Asset.objects.values_list("serial_number", flat=True))

    # when
    output = seed("--people", "10", "--assets", "30", "--items", "0")

    # then one new asset, with a new tag and serial number (no clash with the remaining ones)
    assert "assets: 1 created (" in output
    new = Asset.objects.order_by("-id").first()
    assert new.serial_number not in serials
    assert new.tag != gone.tag
    assert Asset.objects.count() == 30


def test_assets_created_after_seeding_continue_the_tag_sequence(db):
    # given
    seed("--people", "6", "--assets", "20", "--items", "0")
    model = AssetModel.objects.get(model_number="21KC")

    # when
    asset = asset_create(
        actor=user("clerk"),
        model=model,
        data={},
        custom_values={"os": "Windows 11", "memory_gb": "32"},
    )

    # then
    prefix, _ = tag_prefix()
    assert asset.tag == f"{prefix}000021"


def test_seeded_assets_go_on_through_the_lifecycle(db):
    # given
    seed("--people", "20", "--assets", "300", "--items", "0")
    clerk = user("clerk")
    approved = ApprovalRequest.objects.filter(state="approved").first().asset
    pending = ApprovalRequest.objects.filter(state="pending").first()
    repaired = RepairOrder.objects.filter(previous_status="in_use").first().asset
    holder = repaired.holder
    lent = Asset.objects.filter(status="on_loan").first()

    # when
    asset_transition(
        asset=approved, transition="dispose", actor=clerk, data={"method": "recycling"}
    )
    approval_decide(approval=pending, actor=clerk, approve=True)
    asset_transition(asset=repaired, transition="repair_done", actor=clerk)
    warehouse = Location.objects.get(code="WH-MAIN")
    asset_transition(asset=lent, transition="return", actor=clerk, data={"location": warehouse})

    # then
    approved.refresh_from_db()
    assert (approved.status, approved.disposed_on) == ("disposed", timezone.localdate())
    pending.refresh_from_db()
    assert pending.state == "approved"
    repaired.refresh_from_db()
    assert (repaired.status, repaired.holder) == ("in_use", holder)
    assert RepairOrder.objects.get(asset=repaired).state == "done"
    lent.refresh_from_db()
    assert (lent.status, lent.holder, lent.location) == ("in_stock", None, warehouse)


@pytest.mark.parametrize("username", ["clerk", "employee", "depthead"])
def test_seeded_register_pages_render(db, client, username):
    # given
    seed("--people", "20", "--assets", "300", "--items", "0")
    client.force_login(user(username))
    visible = (
        Asset.objects.all()
        if username == "clerk"
        else Asset.objects.filter(holder__user__username=username)
    )
    one_per_status = {a.status: a for a in visible.order_by("id")}

    # when / then: the list and a detail page of each status
    assert client.get(reverse("assets:list")).status_code == 200
    for asset in one_per_status.values():
        response = client.get(reverse("assets:detail", args=[asset.tag]))
        assert response.status_code == 200, (asset.tag, asset.status)
    if username == "clerk":  # and the repairs and the approvals waiting for the clerk
        assert client.get(reverse("assets:repair_list")).status_code == 200
        response = client.get(reverse("approvals:list"))
        assert response.status_code == 200
        pending = ApprovalRequest.objects.filter(state="pending").first()
        assert reverse("approvals:detail", args=[pending.pk]) in response.content.decode()


def test_seed_demo_people_follow_the_number_of_assets(db, monkeypatch):
    # given one person per 5 assets instead of 25
    monkeypatch.setattr(seed_demo_command, "ASSETS_PER_PERSON", 5)

    # when
    seed("--assets", "250", "--items", "0")

    # then max(40, 250 / 5)
    assert Person.objects.count() == 50


def test_seed_demo_rejects_negative_assets(db):
    with pytest.raises(CommandError, match="must not be negative"):
        seed("--assets", "-1")
    assert not Asset.objects.exists()


# --- Consumables (inventory/demo.py, called lazily: assets does not import inventory) ----------


def stock_snapshot() -> list:
    from inventory.models import Document, Item, Stock

    return [
        list(Item.objects.values_list("code", "name", "spec", "barcode", "safety_stock")),
        list(Stock.objects.values_list("item__code", "warehouse_id", "quantity", "value")),
        Document.objects.count(),
    ]


def test_seed_demo_seeds_a_few_consumables_with_stock_by_default(db):
    from inventory.demo import ITEMS
    from inventory.models import Item, Stock, Warehouse

    # when
    output = seed("--people", "6")

    # then
    assert "consumables: 8 created, 0 updated; 2 warehouses, 1 opening receipts posted" in output
    assert Item.objects.count() == len(ITEMS) == 8
    main = Warehouse.objects.get(location__code="WH-MAIN")
    assert [u.username for u in main.keepers.all()] == ["keeper"]
    toner = Stock.objects.get(item__code="TONER-HP-26A", warehouse=main)
    assert (toner.quantity, toner.average_cost) == (10, 385)
    # one item is below its safety stock, so the low-stock page has a row
    assert list(
        Stock.objects.filter(quantity__lt=F("item__safety_stock")).values_list(
            "item__code", flat=True
        )
    ) == ["MEM-DDR4-16G"]


def test_seed_demo_items_option_adds_generated_items_deterministically(db):
    from inventory.models import Item, Stock

    # when
    first = seed("--people", "6", "--items", "30")
    snapshot_30 = stock_snapshot()
    again = seed("--people", "6", "--items", "30")

    # then 30 items, each with opening stock, and a second run changes nothing
    assert "consumables: 30 created, 0 updated; 2 warehouses, 1 opening receipts posted" in first
    assert "consumables: 0 created, 0 updated; 2 warehouses, 0 opening receipts posted" in again
    assert Item.objects.count() == 30
    assert Stock.objects.filter(quantity__gt=0).count() == 30
    assert stock_snapshot() == snapshot_30
    assert Item.objects.filter(code="DEMO-00030").exists()


def test_seed_demo_more_items_later_adds_only_the_missing(db):
    from inventory.models import Item

    # given
    seed("--people", "6", "--items", "12")
    first_twelve = list(Item.objects.order_by("pk").values_list("code", "name", "spec", "barcode"))

    # when
    output = seed("--people", "6", "--items", "20")

    # then
    assert "consumables: 8 created, 0 updated; 2 warehouses, 1 opening receipts posted" in output
    rows = Item.objects.order_by("pk").values_list("code", "name", "spec", "barcode")
    assert list(rows[:12]) == first_twelve
    assert Item.objects.count() == 20


def test_seed_demo_items_zero_creates_no_consumables(db):
    from inventory.models import Item

    output = seed("--people", "6", "--items", "0")

    assert "consumables" not in output
    assert not Item.objects.exists()


def test_seed_demo_rejects_negative_items(db):
    with pytest.raises(CommandError, match="must not be negative"):
        seed("--items", "-1")


def test_assets_never_imports_inventory_at_module_level():
    """inventory depends on assets, not the reverse: seed_demo imports inventory.demo only
    inside the command (and only when the app is installed)."""
    import ast
    from pathlib import Path

    root = Path(demo.__file__).resolve().parent
    offenders = []
    for path in root.rglob("*.py"):
        if "tests" in path.relative_to(root).parts:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(n == "inventory" or n.startswith("inventory.") for n in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
