"""Demo data for ``make run`` and manual testing: a plausible Chinese organisation.

Everything except passwords is deterministic for a seed, and every step is an upsert by a
natural key (``code``, ``employee_no``, ``username``), so running it again changes nothing.
Passwords are random (``secrets``), set only when a user is first created and returned once
so the command can print them.

Steps, in order: :func:`seed_departments`, :func:`seed_locations`, :func:`seed_people`,
:func:`seed_users`. The catalog (:mod:`assets.demo_catalog`) and the assets
(:mod:`assets.demo_register`, bulk inserts in batches of their own) are seeded after it by the
``seed_demo`` command.
"""

from __future__ import annotations

import random
import secrets
import string
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from itassets import roles
from itassets.auth import bump_auth_generation

from .models import Department, Location, Person

DEFAULT_SEED = 2026
DEFAULT_PEOPLE = 40
EMAIL_DOMAIN = "example.com"


# --- Trees ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One node of a demo tree: natural key ``code``, model fields in ``fields``."""

    code: str
    name: str
    children: tuple[Node, ...] = ()
    fields: dict = field(default_factory=dict)


def _n(code: str, name: str, *children: Node, **fields) -> Node:
    return Node(code, name, children, fields)


DEPARTMENTS = _n(
    "HQ",
    "总部",
    _n("HQ-ADM", "行政部"),
    _n("HQ-FIN", "财务部"),
    _n("HQ-HR", "人力资源部"),
    _n("HQ-IT", "信息中心", _n("HQ-IT-OPS", "运维组"), _n("HQ-IT-SEC", "信息安全组")),
    _n(
        "HQ-RD",
        "研发中心",
        _n("HQ-RD-DEV1", "开发一部"),
        _n("HQ-RD-DEV2", "开发二部"),
        _n("HQ-RD-QA", "测试部"),
        _n("HQ-RD-PM", "产品部"),
    ),
    _n("HQ-SALES", "销售部", _n("HQ-SALES-N", "华北销售组"), _n("HQ-SALES-E", "华东销售组")),
)

_CAMPUS, _BUILDING, _FLOOR, _ROOM, _OTHER = (k.value for k in Location.Kind)

LOCATIONS = (
    _n(
        "BJ",
        "北京园区",
        _n(
            "BJ-A",
            "A座",
            _n("BJ-A-1F", "1层", _n("BJ-A-101", "101前台", kind=_ROOM), kind=_FLOOR),
            _n(
                "BJ-A-3F",
                "3层",
                _n("BJ-A-301", "301会议室", kind=_ROOM),
                _n("BJ-A-302", "302开放办公区", kind=_ROOM),
                _n("BJ-A-303", "303研发办公区", kind=_ROOM),
                kind=_FLOOR,
            ),
            kind=_BUILDING,
        ),
        _n(
            "BJ-B",
            "B座",
            _n(
                "BJ-B-1F",
                "1层",
                _n("WH-MAIN", "总仓库", kind=_ROOM, is_warehouse=True),
                kind=_FLOOR,
            ),
            _n("BJ-B-2F", "2层", _n("BJ-B-201", "201机房", kind=_ROOM), kind=_FLOOR),
            kind=_BUILDING,
        ),
        kind=_CAMPUS,
    ),
    _n(
        "SH",
        "上海分部",
        _n(
            "SH-ZJ",
            "张江办公楼",
            _n(
                "SH-ZJ-5F",
                "5层",
                _n("SH-ZJ-501", "501办公区", kind=_ROOM),
                _n("WH-SPARE", "备件库", kind=_ROOM, is_warehouse=True),
                kind=_FLOOR,
            ),
            kind=_BUILDING,
        ),
        kind=_CAMPUS,
    ),
)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0

    def __str__(self):
        return f"{self.created} created, {self.updated} updated"


def _upsert_tree(model, roots, counts: Counts) -> dict[str, object]:
    """Create missing nodes with add_root/add_child; correct the fields of existing ones.

    Existing nodes are never moved. Parents are handled before children, so ``full_name``
    (recomputed on save) is always built from an up-to-date parent.
    """
    existing = {obj.code: obj for obj in model.objects.all()}
    by_code: dict[str, object] = {}

    def visit(node: Node, parent) -> None:
        wanted = {"name": node.name, "is_active": True, **node.fields}
        obj = existing.get(node.code)
        if obj is None:
            instance = model(code=node.code, **wanted)
            if parent is None:
                obj = model.objects.add_root(instance=instance)
            else:
                obj = model.objects.add_child(parent, instance=instance)
            counts.created += 1
        else:
            changed = [k for k, v in wanted.items() if getattr(obj, k) != v]
            for k in changed:
                setattr(obj, k, wanted[k])
            if changed or obj.compute_full_name() != obj.full_name:
                obj.save(update_fields=[*changed, "full_name"])
                counts.updated += 1
        by_code[node.code] = obj
        for child in node.children:
            visit(child, obj)

    for root in roots:
        visit(root, None)
    return by_code


def seed_departments() -> tuple[dict[str, Department], Counts]:
    counts = Counts()
    return _upsert_tree(Department, [DEPARTMENTS], counts), counts


def seed_locations() -> tuple[dict[str, Location], Counts]:
    counts = Counts()
    return _upsert_tree(Location, LOCATIONS, counts), counts


# --- People -----------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
    "许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
)
GIVEN_CHARS = (
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰萍建文辉力鹏飞宇浩然晨阳欣怡子涵梓萱"
    "思远嘉俊雨婷佳琪志海博文凯瑞雪梅晓东春燕国庆立新振华宏亮美玲丹丹"
)
# Titles by department code; people are spread over these departments by weight.
TITLES = {
    "HQ-ADM": ("行政专员", "前台", "行政主管"),
    "HQ-FIN": ("会计", "出纳", "财务分析师"),
    "HQ-HR": ("招聘专员", "薪酬专员", "HRBP"),
    "HQ-IT-OPS": ("运维工程师", "桌面支持工程师", "网络工程师"),
    "HQ-IT-SEC": ("安全工程师",),
    "HQ-RD-DEV1": ("软件工程师", "高级软件工程师", "前端工程师"),
    "HQ-RD-DEV2": ("软件工程师", "高级软件工程师", "架构师"),
    "HQ-RD-QA": ("测试工程师", "自动化测试工程师"),
    "HQ-RD-PM": ("产品经理", "交互设计师"),
    "HQ-SALES-N": ("客户经理", "销售代表"),
    "HQ-SALES-E": ("客户经理", "销售代表"),
}
WEIGHTS = {"HQ-RD-DEV1": 4, "HQ-RD-DEV2": 4, "HQ-RD-QA": 3, "HQ-SALES-N": 2, "HQ-SALES-E": 2}
MOBILE_PREFIXES = ("135", "136", "138", "139", "150", "158", "186", "188", "189")


@dataclass(frozen=True)
class DemoUser:
    """A login user for one role, linked to the person with employee number ``employee_no``."""

    role: str
    username: str
    employee_no: str
    department: str
    title: str


DEMO_USERS = (
    DemoUser(roles.ADMIN, "admin", "E0001", "HQ-IT-OPS", "系统管理员"),
    DemoUser(roles.CLERK, "clerk", "E0002", "HQ-IT", "资产管理员"),
    DemoUser(roles.KEEPER, "keeper", "E0003", "HQ-ADM", "仓库管理员"),
    DemoUser(roles.DEPT_HEAD, "depthead", "E0004", "HQ-RD", "研发中心总监"),
    DemoUser(roles.EMPLOYEE, "employee", "E0005", "HQ-RD-DEV1", "软件工程师"),
    DemoUser(roles.AUDITOR, "auditor", "E0006", "HQ-FIN", "内审专员"),
)
HEADED_BY = {"HQ-RD": "depthead"}  # department code → demo username of its head


@dataclass(frozen=True)
class PersonRow:
    employee_no: str
    name: str
    department: str  # department code
    title: str
    phone: str
    email: str


def employee_no(index: int) -> str:
    return f"E{index:04d}"


def person_rows(*, seed: int = DEFAULT_SEED, count: int = DEFAULT_PEOPLE) -> list[PersonRow]:
    """The demo people for a seed (pure: no database). Person i is the same for any count.

    The first ``len(DEMO_USERS)`` people are the demo users' persons, so count is at least that.
    """
    by_no = {u.employee_no: u for u in DEMO_USERS}
    codes = list(TITLES)
    weights = [WEIGHTS.get(c, 1) for c in codes]
    rows = []
    for i in range(1, max(count, len(DEMO_USERS)) + 1):
        # Demo data, not security: a reproducible generator per person is the point.
        rng = random.Random(f"itassets-demo:{seed}:person:{i}")  # noqa: S311
        no = employee_no(i)
        given_len = 1 if rng.random() < 0.25 else 2
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(given_len))
        department = rng.choices(codes, weights)[0]
        title = rng.choice(TITLES[department])
        phone = rng.choice(MOBILE_PREFIXES) + "".join(rng.choice(string.digits) for _ in range(8))
        email = f"{no.lower()}@{EMAIL_DOMAIN}"
        if no in by_no:
            user = by_no[no]
            department, title, email = (
                user.department,
                user.title,
                f"{user.username}@{EMAIL_DOMAIN}",
            )
        rows.append(PersonRow(no, name, department, title, phone, email))
    return rows


PERSON_FIELDS = ("name", "department_id", "title", "phone", "email", "is_active")


def seed_people(
    *, seed: int, count: int, departments: dict[str, Department]
) -> tuple[dict[str, Person], Counts]:
    """Upsert people by employee number: bulk_create the missing, bulk_update the changed."""
    counts = Counts()
    rows = person_rows(seed=seed, count=count)
    existing = Person.objects.in_bulk([r.employee_no for r in rows], field_name="employee_no")
    to_create, to_update = [], []
    now = timezone.now()
    for row in rows:
        wanted = {
            "name": row.name,
            "department_id": departments[row.department].pk,
            "title": row.title,
            "phone": row.phone,
            "email": row.email,
            "is_active": True,
        }
        person = existing.get(row.employee_no)
        if person is None:
            to_create.append(Person(employee_no=row.employee_no, **wanted))
        elif any(getattr(person, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(person, k, v)
            person.updated_at = now
            to_update.append(person)
    Person.objects.bulk_create(to_create, batch_size=500)
    Person.objects.bulk_update(to_update, [*PERSON_FIELDS, "updated_at"], batch_size=500)
    if to_create or to_update:
        bump_auth_generation()  # bulk writes send no signal; a login's person may change
    counts.created, counts.updated = len(to_create), len(to_update)
    people = Person.objects.in_bulk([r.employee_no for r in rows], field_name="employee_no")
    return people, counts


# --- Users ------------------------------------------------------------------------------------

UNAMBIGUOUS_CHARACTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def generate_password(length: int = 14) -> str:
    """A random password (no look-alike characters); never derived from the seed."""
    return "".join(secrets.choice(UNAMBIGUOUS_CHARACTERS) for _ in range(length))


@dataclass(frozen=True)
class NewUser:
    role: str  # role slug
    username: str
    password: str


@dataclass
class UserResult:
    created: list[NewUser] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def seed_users(*, people: dict[str, Person], departments: dict[str, Department]) -> UserResult:
    """One login user per role, linked to its person; the password is set only on creation."""
    user_model = get_user_model()
    result = UserResult()
    groups = {
        g.name: g for g in Group.objects.filter(name__in=[r.group for r in roles.ROLES.values()])
    }
    users = {}
    for spec in DEMO_USERS:
        person = people[spec.employee_no]
        user = user_model.objects.filter(username=spec.username).first()
        superuser = spec.role == roles.ADMIN
        if user is None:
            password = generate_password()
            user = user_model.objects.create_user(
                username=spec.username,
                password=password,
                email=person.email,
                first_name=person.name,
                is_staff=superuser,
                is_superuser=superuser,
            )
            result.created.append(NewUser(spec.role, spec.username, password))
        else:
            result.existing.append(spec.username)
        group = groups.get(roles.ROLES[spec.role].group)
        if group is None:
            group, _created = Group.objects.get_or_create(name=roles.ROLES[spec.role].group)
        user.groups.add(group)  # a no-op when already a member
        if person.user_id is None and not Person.objects.filter(user=user).exists():
            person.user = user
            person.save(update_fields=["user", "updated_at"])
        users[spec.username] = person
    for code, username in HEADED_BY.items():
        department = departments[code]
        head = users[username]
        if department.head_id != head.pk:
            department.head = head
            department.save(update_fields=["head"])
    return result


# --- Everything -------------------------------------------------------------------------------


@dataclass
class DemoResult:
    seed: int
    counts: dict[str, Counts]
    users: UserResult


@transaction.atomic
def seed_demo(*, seed: int = DEFAULT_SEED, people: int = DEFAULT_PEOPLE) -> DemoResult:
    """Create or complete the demo organisation and its users (idempotent for a seed)."""
    departments, department_counts = seed_departments()
    _locations, location_counts = seed_locations()
    persons, people_counts = seed_people(seed=seed, count=people, departments=departments)
    users = seed_users(people=persons, departments=departments)
    counts = {
        "departments": department_counts,
        "locations": location_counts,
        "people": people_counts,
    }
    return DemoResult(seed=seed, counts=counts, users=users)
