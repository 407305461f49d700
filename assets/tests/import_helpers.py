"""Shared pieces of the import tests: a small catalog and files written from rows."""

from __future__ import annotations

import csv
from pathlib import Path

from assets.models import CustomField, Location
from assets.tests.factories import (
    AssetModelFactory,
    CategoryFactory,
    DepartmentFactory,
    LocationFactory,
    ManufacturerFactory,
    PersonFactory,
    SupplierFactory,
)
from itassets.xlsx import XlsxWriter


def make_catalog() -> dict:
    """总部/研发中心/测试部, 总部园区/A座/301室, 计算机设备/笔记本电脑 with custom fields
    (内存: required choice, 处理器: text, 内存插槽: integer on the parent), a ThinkPad X1
    model of 联想, person E001 张三 and supplier 京东企业购."""
    hq = DepartmentFactory(code="HQ", name="总部")
    rd = DepartmentFactory(parent=hq, code="RD", name="研发中心")
    qa = DepartmentFactory(parent=rd, code="QA", name="测试部")
    campus = LocationFactory(code="CAMPUS", name="总部园区", kind=Location.Kind.CAMPUS)
    building = LocationFactory(parent=campus, code="A", name="A座", kind=Location.Kind.BUILDING)
    room = LocationFactory(parent=building, code="R301", name="301室")
    pc = CategoryFactory(code="PC", name="计算机设备")
    laptop = CategoryFactory(parent=pc, code="PC-LAPTOP", name="笔记本电脑")
    CustomField.objects.create(
        category=pc, key="ram_slots", label="内存插槽", field_type=CustomField.Type.INTEGER
    )
    CustomField.objects.create(
        category=laptop,
        key="memory",
        label="内存",
        field_type=CustomField.Type.CHOICE,
        choices=["8GB", "16GB", "32GB"],
        required=True,
        position=1,
    )
    CustomField.objects.create(
        category=laptop, key="cpu", label="处理器", field_type=CustomField.Type.TEXT, position=2
    )
    lenovo = ManufacturerFactory(name="联想")
    x1 = AssetModelFactory(
        category=laptop, manufacturer=lenovo, name="ThinkPad X1", model_number="21KC"
    )
    person = PersonFactory(employee_no="E001", name="张三", department=qa)
    supplier = SupplierFactory(name="京东企业购")
    return {
        "hq": hq,
        "rd": rd,
        "qa": qa,
        "campus": campus,
        "room": room,
        "pc": pc,
        "laptop": laptop,
        "lenovo": lenovo,
        "x1": x1,
        "person": person,
        "supplier": supplier,
    }


def write_csv(path: Path, rows: list[list], *, encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows([["" if v is None else v for v in row] for row in rows])
    return path


def write_xlsx(path: Path, rows: list[list], *, sheet: str = "资产") -> Path:
    with open(path, "wb") as f, XlsxWriter(f) as book:
        ws = book.sheet(sheet)
        for row in rows:
            ws.append(row)
    return path
