import hashlib
import re
from datetime import date, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

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
        "records": [AssetEvent.objects.count(), RepairOrder.objects.count()]
        + [ApprovalRequest.objects.count(), ApprovalStep.objects.count()],
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
