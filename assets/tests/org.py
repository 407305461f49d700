"""A small organisation for approval, request and self-service tests.

总部 (no head) › 研发中心 (head: ``head``) › 测试部 (no head of its own); 市场部 (head:
``other_head``). ``employee`` works in 研发中心, ``tester`` in 测试部; ``clerk`` and
``clerk2`` are asset clerks; ``lone`` is an employee-role user without a staff record.
"""

from __future__ import annotations

from dataclasses import dataclass

from assets.models import Category, Department, Person

from .factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
)


@dataclass
class Org:
    root: Department
    rd: Department
    qa: Department
    sales: Department
    head: object
    head_person: Person
    other_head: object
    employee: object
    employee_person: Person
    tester: object
    tester_person: Person
    clerk: object
    clerk2: object
    lone: object
    laptops: Category
    computers: Category
    phones: Category
    warehouse: object

    def asset(self, **kwargs):
        """An in-stock laptop of 研发中心 unless told otherwise."""
        kwargs.setdefault("department", self.rd)
        kwargs.setdefault("location", self.warehouse)
        if "model" not in kwargs:
            kwargs["model"] = AssetModelFactory(category=self.laptops)
        return AssetFactory(**kwargs)


def person_with_user(make_user, role: str, department: Department, name: str):
    user = make_user(role)
    person = PersonFactory(user=user, department=department, name=name)
    return user, person


def make_org(make_user) -> Org:
    root = DepartmentFactory(name="总部")
    rd = DepartmentFactory(parent=root, name="研发中心")
    qa = DepartmentFactory(parent=rd, name="测试部")
    sales = DepartmentFactory(parent=root, name="市场部")
    head, head_person = person_with_user(make_user, "dept_head", rd, "王主任")
    rd.head = head_person
    rd.save(update_fields=["head"])
    other_head, other_person = person_with_user(make_user, "dept_head", sales, "李经理")
    sales.head = other_person
    sales.save(update_fields=["head"])
    employee, employee_person = person_with_user(make_user, "employee", rd, "张三")
    tester, tester_person = person_with_user(make_user, "employee", qa, "赵六")
    computers = CategoryFactory(name="计算机")
    laptops = CategoryFactory(parent=computers, name="笔记本")
    phones = CategoryFactory(name="手机")
    return Org(
        root=root,
        rd=rd,
        qa=qa,
        sales=sales,
        head=head,
        head_person=head_person,
        other_head=other_head,
        employee=employee,
        employee_person=employee_person,
        tester=tester,
        tester_person=tester_person,
        clerk=make_user("clerk"),
        clerk2=make_user("clerk"),
        lone=make_user("employee"),
        laptops=laptops,
        computers=computers,
        phones=phones,
        warehouse=LocationFactory(warehouse=True),
    )
