"""Importing people, departments, locations, categories (with custom-field schemas) and models;
and the commands' dry run and success paths."""

import pytest
from django.core.management import call_command
from django.utils import translation

from assets.models import AssetModel, Category, CustomField, Department, Location, Person
from assets.tests.factories import CategoryFactory, DepartmentFactory, PersonFactory
from assets.tests.import_helpers import make_catalog, write_csv, write_xlsx
from itassets.importing.service import import_file


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _errors(result):
    return [(e.row, e.column, e.reason) for e in result.errors]


def test_departments_with_parents_in_any_order_renames_and_no_moves(db, tmp_path):
    # given 总部 › 研发中心 and a head of department
    hq = DepartmentFactory(code="HQ", name="总部")
    rd = DepartmentFactory(parent=hq, code="RD", name="研发中心")
    DepartmentFactory(parent=rd, code="QA", name="测试部")
    head = PersonFactory(employee_no="E9", name="王五", department=None)
    rows = [
        ["部门编码", "部门名称", "上级部门", "负责人", "启用"],
        ["RD-FE", "前端组", "RD-WEB", "", "是"],  # parent defined further down
        ["RD-WEB", "Web部", "总部/研发中心", "E9", "是"],
        ["RD", "研发中心（新）", "HQ", "", ""],  # rename
        ["SALES", "销售部", "", "", "否"],
    ]

    result = import_file(kind="departments", path=write_csv(tmp_path / "d.csv", rows))

    assert (result.errors, result.created, result.updated) == ([], 3, 1)
    fe = Department.objects.get(code="RD-FE")
    assert fe.full_name == "总部/研发中心（新）/Web部/前端组"
    assert Department.objects.get(code="QA").full_name == "总部/研发中心（新）/测试部"
    assert Department.objects.get(code="RD-WEB").head == head
    assert Department.objects.get(code="SALES").is_active is False
    assert Department.objects.find_problems() == ([], [], [], [], [])
    # moving an existing department is refused; unknown parents and cycles are reported
    moved = [
        ["部门编码", "部门名称", "上级部门"],
        ["QA", "测试部", "SALES"],
        ["X", "X", "Y"],
        ["Y", "Y", "X"],
        ["Z", "Z", "不存在"],
    ]
    result = import_file(kind="departments", path=write_csv(tmp_path / "m.csv", moved))
    assert [(row, column) for row, column, _reason in _errors(result)] == [
        (2, "上级部门"),
        (3, "上级部门"),
        (4, "上级部门"),
        (5, "上级部门"),
    ]
    assert _errors(result)[0][2] == (
        "Moving an existing entry to another parent is done in the admin."
    )


def test_locations_with_kinds_and_warehouses(db, tmp_path):
    rows = [
        ["地点编码", "地点名称", "上级地点", "类型", "仓库"],
        ["HQ", "总部园区", "", "园区", ""],
        ["HQ-A", "A座", "HQ", "Building", "否"],
        ["HQ-A-B1", "B1仓库", "总部园区/A座", "房间", "是"],
        ["HQ-X", "X", "HQ", "飞船", "也许"],
    ]

    result = import_file(kind="locations", path=write_xlsx(tmp_path / "l.xlsx", rows))
    assert [(r, c) for r, c, _m in _errors(result)] == [(5, "类型"), (5, "仓库")]

    result = import_file(kind="locations", path=write_xlsx(tmp_path / "l.xlsx", rows[:4]))
    assert result.errors == []
    store = Location.objects.get(code="HQ-A-B1")
    assert (store.full_name, store.is_warehouse, store.kind) == (
        "总部园区/A座/B1仓库",
        True,
        "room",
    )
    assert Location.objects.get(code="HQ").kind == "campus"


def test_people_upsert_by_employee_number(db, tmp_path):
    qa = DepartmentFactory(code="QA", name="测试部")
    PersonFactory(employee_no="E1", name="张三", phone="1", department=None)
    rows = [
        ["工号", "姓名", "部门", "手机", "邮箱", "在职"],
        ["E1", "", "QA", "13800000000", "", ""],
        ["E2", "李四", "测试部", "", "lisi@example.cn", "是"],
        ["E2", "李四", "", "", "", ""],
        ["E3", "", "", "", "not-an-email", ""],
    ]

    result = import_file(kind="people", path=write_csv(tmp_path / "p.csv", rows))
    assert _errors(result) == [
        (4, "工号", "Duplicate employee number: also in row 3."),
        (5, "姓名", "Required for a new person."),
        (5, "邮箱", "Not an email address."),
    ]

    result = import_file(kind="people", path=write_csv(tmp_path / "p.csv", rows[:3]))
    assert (result.errors, result.created, result.updated) == ([], 1, 1)
    e1 = Person.objects.get(employee_no="E1")
    assert (e1.name, e1.phone, e1.department) == ("张三", "13800000000", qa)
    assert Person.objects.get(employee_no="E2").email == "lisi@example.cn"


def test_categories_with_custom_field_schemas(db, tmp_path):
    # given a category with one field already
    pc = CategoryFactory(code="PC", name="计算机设备")
    CustomField.objects.create(category=pc, key="memory", label="内存", field_type="text")
    rows = [
        [
            "分类编码",
            "分类名称",
            "上级分类",
            "资产类别",
            "使用年限(月)",
            "残值率",
            "折旧方法",
            "字段1名称",
            "字段1类型",
            "字段1必填",
            "字段1选项",
            "字段2名称",
            "字段2类型",
            "字段2标识",
        ],
        [
            "PC",
            "计算机设备",
            "",
            "固定资产",
            "",
            "",
            "",
            "内存",
            "选项",
            "是",
            "8GB、16GB",
            "",
            "",
            "",
        ],
        [
            "PC-LAPTOP",
            "笔记本电脑",
            "PC",
            "低值易耗品",
            36,
            "5%",
            "双倍余额递减法",
            "屏幕尺寸",
            "小数",
            "否",
            "",
            "Touch",
            "是否",
            "touch",
        ],
    ]

    result = import_file(kind="categories", path=write_xlsx(tmp_path / "c.xlsx", rows))

    assert (result.errors, result.created, result.updated) == ([], 1, 1)
    memory = CustomField.objects.get(category=pc, key="memory")
    assert (memory.field_type, memory.required, memory.choices) == ("choice", True, ["8GB", "16GB"])
    laptop = Category.objects.get(code="PC-LAPTOP")
    assert (
        laptop.asset_class,
        laptop.useful_life_months,
        str(laptop.residual_rate),
        laptop.depreciation_method,
    ) == ("low_value", 36, "5.00", "double_declining")
    fields = list(laptop.fields.order_by("position").values_list("key", "label", "field_type"))
    assert fields[1] == ("touch", "Touch", "boolean")
    assert fields[0][1:] == ("屏幕尺寸", "decimal")
    assert fields[0][0].startswith("f_")
    # a choice without options and a field without type are reported
    bad = [
        rows[0],
        ["PC", "计算机设备", "", "", "", "", "", "颜色", "选项", "", "", "新字段", "", ""],
    ]
    result = import_file(kind="categories", path=write_xlsx(tmp_path / "b.xlsx", bad))
    assert _errors(result) == [
        (2, "字段1类型", "A choice field needs at least one option."),
        (2, "字段2名称", "A new field needs a type."),
    ]


def test_models_upsert_by_manufacturer_and_model_number(db, tmp_path):
    catalog = make_catalog()
    rows = [
        ["型号名称", "型号编号", "品牌", "分类", "保修期(月)"],
        ["ThinkPad X1", "21KC", "联想", "PC-LAPTOP", 24],
        ["MateBook X", "MBX", "华为", "计算机设备/笔记本电脑", 12],
    ]

    result = import_file(kind="models", path=write_csv(tmp_path / "m.csv", rows))
    assert _errors(result) == [(3, "品牌", "Unknown manufacturer “华为”.")]

    result = import_file(
        kind="models", path=write_csv(tmp_path / "m.csv", rows), create_missing_refs=True
    )
    assert (result.errors, result.created, result.updated) == ([], 1, 1)
    assert result.refs_created == {"manufacturers": 1}
    catalog["x1"].refresh_from_db()
    assert catalog["x1"].default_warranty_months == 24
    mbx = AssetModel.objects.get(model_number="MBX")
    assert (mbx.manufacturer.name, mbx.category) == ("华为", catalog["laptop"])


def test_the_commands_dry_run_and_import(db, tmp_path, capsys):
    DepartmentFactory(code="QA", name="测试部")
    path = write_csv(tmp_path / "p.csv", [["工号", "姓名", "部门"], ["E1", "张三", "QA"]])

    call_command("import_people", str(path), "--dry-run", "--language", "en", "--no-progress")
    out = capsys.readouterr().out
    assert "New: 1, updated: 0, unchanged: 0 (would be written)." in out
    assert "Dry run: no errors, nothing written." in out
    assert not Person.objects.exists()

    call_command("import_people", str(path), "--language", "en", "--no-progress")
    assert "Imported." in capsys.readouterr().out
    assert Person.objects.get().department.code == "QA"
    assert not (tmp_path / "p.errors.xlsx").exists()
