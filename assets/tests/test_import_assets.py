"""Importing assets: upsert by tag or serial number, all or nothing, per-cell errors, bulk
writes with history and import events, references from memory."""

import codecs
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from assets.lifecycle import Status
from assets.models import Asset, AssetEvent, AssetModel, Department, Location, Supplier
from assets.tests.factories import AssetFactory, PersonFactory
from assets.tests.import_helpers import make_catalog, write_csv, write_xlsx
from itassets.importing.service import import_file

HEADER = ["资产编号", "型号", "序列号", "使用人", "使用部门", "存放地点", "状态", "金额", "内存"]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def catalog(db):
    return make_catalog()


def _asset(catalog, **fields):
    defaults = {
        "model": catalog["x1"],
        "category": catalog["laptop"],
        "manufacturer": catalog["lenovo"],
        "custom_fields": {"memory": "8GB"},
    }
    return AssetFactory(**{**defaults, **fields})


def _errors(result):
    return [(e.row, e.column, e.value, e.reason) for e in result.errors]


def test_new_assets_get_tags_in_one_block_and_an_import_event(catalog, tmp_path, clerk):
    # given two new rows without tags
    path = write_csv(
        tmp_path / "new.csv",
        [
            HEADER,
            ["", "ThinkPad X1", "SN1", "", "QA", "", "", "100", "8GB"],
            ["", "ThinkPad X1", "SN2", "张三", "", "", "", "", "16GB"],
        ],
    )

    # when imported by a clerk
    result = import_file(kind="assets", path=path, actor=clerk)

    # then both exist with consecutive new tags, the right statuses and the actor
    assert (result.errors, result.created, result.written) == ([], 2, True)
    first, second = Asset.objects.order_by("serial_number")
    assert int(second.tag[-6:]) == int(first.tag[-6:]) + 1
    assert (first.status, second.status) == (Status.IN_STOCK, Status.IN_USE)
    assert (second.holder, first.created_by, first.updated_by) == (catalog["person"], clerk, clerk)
    # an import event names the file and the row (the creation record: no history row)
    events = list(
        AssetEvent.objects.order_by("payload__row").values_list(
            "asset__serial_number", "transition", "to_status", "actor", "payload"
        )
    )
    assert events == [
        ("SN1", "import", "in_stock", clerk.pk, {"file": "new.csv", "row": 2}),
        ("SN2", "import", "in_use", clerk.pk, {"file": "new.csv", "row": 3}),
    ]
    assert not first.history.exists()


def test_with_history_on_create_new_assets_get_a_created_history_row(
    catalog, tmp_path, clerk, settings
):
    settings.IMPORT_HISTORY_ON_CREATE = True
    path = write_csv(
        tmp_path / "new.csv", [HEADER, ["", "ThinkPad X1", "SN1", "", "", "", "", "100", "8GB"]]
    )

    import_file(kind="assets", path=path, actor=clerk)

    asset = Asset.objects.get()
    record = asset.history.get()
    assert (record.history_type, record.history_change_reason, record.history_user) == (
        "+",
        "import",
        clerk,
    )
    assert (record.tag, record.serial_number, record.cost) == (asset.tag, "SN1", Decimal("100"))


def test_an_existing_tag_updates_only_the_given_cells(catalog, tmp_path):
    # given an asset with a location and notes
    asset = _asset(
        catalog,
        tag="IT-1",
        serial_number="S-1",
        location=catalog["room"],
        notes="keep me",
        cost=Decimal("5.00"),
    )
    path = write_csv(
        tmp_path / "upd.csv",
        [
            ["资产编号", "供应商", "金额", "备注", "存放地点"],
            ["IT-1", "京东企业购", "¥6.00", "", ""],
        ],
    )

    # when the row sets a supplier and a cost, leaving other cells empty
    result = import_file(kind="assets", path=path)

    # then those two change; empty cells keep their values; a "~" history row is written
    assert (result.errors, result.created, result.updated) == ([], 0, 1)
    asset.refresh_from_db()
    assert (asset.supplier, asset.cost, asset.notes, asset.location) == (
        catalog["supplier"],
        Decimal("6.00"),
        "keep me",
        catalog["room"],
    )
    assert list(
        asset.history.filter(history_type="~").values_list("history_change_reason", flat=True)
    ) == ["import"]
    assert not AssetEvent.objects.exists()


def test_rows_changing_different_cells_update_each_asset_and_copy_it_to_history(
    catalog, tmp_path, clerk
):
    # given three assets, and a file changing different cells of each (so the writer sends
    # one UPDATE per set of changed columns) and one with nothing to change
    one = _asset(catalog, tag="IT-1", serial_number="S-1", notes="one", cost=Decimal("1.00"))
    two = _asset(catalog, tag="IT-2", serial_number="S-2", notes="two", cost=Decimal("2.00"))
    three = _asset(catalog, tag="IT-3", serial_number="S-3", notes="three", cost=Decimal("3.00"))
    path = write_csv(
        tmp_path / "upd.csv",
        [
            ["资产编号", "金额", "备注", "内存"],
            ["IT-1", "", "one, again", ""],
            ["IT-2", "¥20.00", "", "16GB"],
            ["IT-3", "", "three", ""],
        ],
    )

    # when imported
    result = import_file(kind="assets", path=path, actor=clerk)

    # then each asset changed only in its own cells, and its "~" history row holds exactly
    # the asset as updated
    assert (result.errors, result.updated, result.unchanged) == ([], 2, 1)
    for asset in (one, two, three):
        asset.refresh_from_db()
    assert [(a.notes, a.cost, a.custom_fields) for a in (one, two, three)] == [
        ("one, again", Decimal("1.00"), {"memory": "8GB"}),
        ("two", Decimal("20.00"), {"memory": "16GB"}),
        ("three", Decimal("3.00"), {"memory": "8GB"}),
    ]
    assert (one.updated_by, two.updated_by) == (clerk, clerk)
    fields = [
        f.attname
        for f in Asset._meta.concrete_fields
        if f.attname in {f.attname for f in Asset.history.model._meta.concrete_fields}
    ]
    for asset in (one, two):
        (row,) = asset.history.filter(history_change_reason="import").values(
            "history_type", "history_user_id", "history_relation_id", *fields
        )
        assert row == {
            "history_type": "~",
            "history_user_id": clerk.pk,
            "history_relation_id": asset.pk,
            **Asset.objects.filter(pk=asset.pk).values(*fields).get(),
        }
    assert not three.history.filter(history_change_reason="import").exists()


def test_an_import_never_moves_an_existing_asset(catalog, tmp_path):
    # given an asset in room 301 of 测试部, held by 张三
    asset = _asset(
        catalog,
        tag="IT-1",
        status="in_use",
        holder=catalog["person"],
        department=catalog["qa"],
        location=catalog["room"],
    )
    other = PersonFactory(employee_no="E2", name="李四")
    path = write_csv(
        tmp_path / "move.csv",
        [["资产编号", "使用人", "使用部门", "存放地点", "备注"], ["IT-1", "E2", "RD", "A座", "x"]],
    )

    # when a row names another user, department and location (the same values are fine)
    result = import_file(kind="assets", path=path)

    # then each is refused: lifecycle actions move assets, and nothing changes
    reason = "Use a lifecycle action (assign, transfer or return) to change this."
    assert _errors(result) == [
        (2, "使用人", "E2", reason),
        (2, "使用部门", "RD", reason),
        (2, "存放地点", "A座", reason),
    ]
    asset.refresh_from_db()
    assert (asset.holder, asset.notes) == (catalog["person"], "")
    assert other.assets.count() == 0
    same = write_csv(
        tmp_path / "same.csv",
        [["资产编号", "使用人", "使用部门", "存放地点"], ["IT-1", "张三（E001）", "QA", "R301"]],
    )
    assert import_file(kind="assets", path=same).errors == []


def test_a_known_serial_number_without_tag_updates_that_asset(catalog, tmp_path):
    asset = _asset(catalog, tag="IT-1", serial_number="SN-9")
    path = write_csv(
        tmp_path / "s.csv", [["型号", "品牌", "序列号", "备注"], ["21KC", "联想", "sn-9", "盘点"]]
    )

    result = import_file(kind="assets", path=path)

    assert (result.errors, result.created, result.updated) == ([], 0, 1)
    asset.refresh_from_db()
    assert asset.notes == "盘点"
    assert Asset.objects.count() == 1


def test_an_unchanged_row_changes_nothing(catalog, tmp_path):
    _asset(catalog, tag="IT-1", serial_number="SN-9", department=catalog["qa"])
    path = write_csv(tmp_path / "u.csv", [["资产编号", "使用部门", "状态"], ["IT-1", "QA", "在库"]])

    result = import_file(kind="assets", path=path)

    assert (result.errors, result.updated, result.unchanged) == ([], 0, 1)
    assert not Asset.history.filter(history_type="~").exists()


def test_the_status_of_an_existing_asset_is_not_changed_by_an_import(catalog, tmp_path):
    asset = _asset(catalog, tag="IT-1", status=Status.IN_STOCK)
    path = write_csv(tmp_path / "s.csv", [["资产编号", "状态", "备注"], ["IT-1", "已处置", "x"]])

    result = import_file(kind="assets", path=path)

    assert _errors(result) == [
        (
            2,
            "状态",
            "已处置",
            "The status of an existing asset changes only through lifecycle actions "
            "(now “In stock / idle”).",
        ),
    ]
    asset.refresh_from_db()
    assert (asset.status, asset.notes) == (Status.IN_STOCK, "")


def test_one_bad_cell_anywhere_and_nothing_is_written(catalog, tmp_path):
    # given 2,500 good rows (two chunks) and one bad amount in the last
    rows = [["", "ThinkPad X1", f"SN{i}", "", "", "", "", "1", "8GB"] for i in range(2500)]
    rows[-1][7] = "abc"
    path = write_csv(tmp_path / "many.csv", [HEADER, *rows])

    result = import_file(kind="assets", path=path)

    assert _errors(result) == [(2501, "金额", "abc", "Not a number.")]
    assert result.created == 2499
    assert not result.written
    assert not Asset.objects.exists()
    assert not AssetEvent.objects.exists()


def test_a_dry_run_validates_and_writes_nothing(catalog, tmp_path):
    _asset(catalog, tag="IT-1")
    path = write_csv(
        tmp_path / "d.csv",
        [
            HEADER,
            ["IT-1", "", "", "", "", "", "", "99", ""],
            ["", "ThinkPad X1", "SN2", "", "", "", "", "", "8GB"],
        ],
    )

    result = import_file(kind="assets", path=path, dry_run=True)

    assert (result.errors, result.created, result.updated, result.written) == ([], 1, 1, False)
    assert Asset.objects.count() == 1
    assert Asset.objects.get().cost != Decimal("99")


def test_duplicates_within_the_file_and_against_the_database(catalog, tmp_path):
    _asset(catalog, tag="IT-OLD", serial_number="SN-OLD")
    path = write_csv(
        tmp_path / "dup.csv",
        [
            HEADER,
            ["IT-1", "ThinkPad X1", "SN1", "", "", "", "", "", "8GB"],
            ["it-1", "ThinkPad X1", "SN2", "", "", "", "", "", "8GB"],
            ["", "ThinkPad X1", "SN1", "", "", "", "", "", "8GB"],
            ["IT-2", "ThinkPad X1", "SN-OLD", "", "", "", "", "", "8GB"],
        ],
    )

    result = import_file(kind="assets", path=path)

    assert _errors(result) == [
        (3, "资产编号", "it-1", "Duplicate asset tag: also in row 2."),
        (4, "序列号", "SN1", "Duplicate serial number: also in row 2."),
        (5, "序列号", "SN-OLD", "This serial number already belongs to asset IT-OLD."),
    ]


def test_references_by_code_path_name_and_employee_number(catalog, tmp_path):
    other = PersonFactory(employee_no="E002", name="张三")  # a second 张三
    path = write_csv(
        tmp_path / "r.csv",
        [
            ["型号", "序列号", "使用人", "使用人工号", "使用部门", "存放地点", "供应商", "内存"],
            [
                "ThinkPad X1",
                "S1",
                "",
                "E002",
                "总部 / 研发中心 / 测试部",
                "A座",
                "京东企业购",
                "8GB",
            ],
            ["ThinkPad X1", "S2", "张三", "", "", "", "", "8GB"],
            ["ThinkPad X1", "S3", "张三（E001）", "", "", "", "", "8GB"],
        ],
    )

    result = import_file(kind="assets", path=path)

    assert _errors(result) == [
        (3, "使用人", "张三", "Several people are called “张三”: give the employee number."),
    ]
    # fix the ambiguous row and import again
    rows = [
        ["型号", "序列号", "使用人", "使用人工号", "使用部门", "存放地点", "供应商", "内存"],
        [
            "ThinkPad X1",
            "S1",
            "",
            "E002",
            "总部 / 研发中心 / 测试部",
            "A座",
            "京东企业购",
            "8GB",
        ],
        ["ThinkPad X1", "S3", "张三（E001）", "", "", "", "", "8GB"],
    ]
    result = import_file(kind="assets", path=write_csv(tmp_path / "r2.csv", rows))
    assert result.errors == []
    s1, s3 = Asset.objects.order_by("serial_number")
    assert (s1.holder, s1.department.code, s1.location.name, s1.supplier) == (
        other,
        "QA",
        "A座",
        catalog["supplier"],
    )
    assert s3.holder == catalog["person"]


def test_unknown_references_are_errors_unless_they_may_be_created(catalog, tmp_path):
    rows = [
        ["型号", "品牌", "分类", "序列号", "使用部门", "存放地点", "供应商", "内存"],
        [
            "T14",
            "联想",
            "PC-LAPTOP",
            "S1",
            "总部/研发中心/新部门",
            "新园区/1号楼",
            "新供应商",
            "8GB",
        ],
        ["Mate X", "华为", "计算机设备/笔记本电脑", "S2", "总部/研发中心/新部门", "", "", "8GB"],
    ]
    path = write_csv(tmp_path / "m.csv", rows)

    result = import_file(kind="assets", path=path)
    assert [(e.row, e.column) for e in result.errors] == [
        (2, "型号"),
        (2, "使用部门"),
        (2, "存放地点"),
        (2, "供应商"),
        (3, "品牌"),
        (3, "使用部门"),
    ]
    assert result.errors[1].reason == (
        "Unknown department “总部/研发中心/新部门”: give its code or full path."
    )

    result = import_file(kind="assets", path=path, create_missing_refs=True)

    assert result.errors == []
    assert result.refs_created == {
        "manufacturers": 1,
        "suppliers": 1,
        "departments": 1,
        "locations": 2,
        "models": 2,
    }
    new_dept = Department.objects.get(name="新部门")
    assert (new_dept.full_name, Department.objects.get_parent(new_dept)) == (
        "总部/研发中心/新部门",
        catalog["rd"],
    )
    assert catalog["rd"].__class__.objects.get(pk=catalog["rd"].pk).numchild == 2
    building = Location.objects.get(name="1号楼")
    assert (building.full_name, building.depth) == ("新园区/1号楼", 2)
    assert Department.objects.find_problems() == ([], [], [], [], [])
    assert Location.objects.find_problems() == ([], [], [], [], [])
    t14 = AssetModel.objects.get(name="T14")
    assert (t14.manufacturer, t14.category) == (catalog["lenovo"], catalog["laptop"])
    assert Supplier.objects.filter(name="新供应商").exists()
    s1 = Asset.objects.get(serial_number="S1")
    assert (s1.model, s1.department, s1.location) == (t14, new_dept, building)


def test_statuses_by_chinese_or_english_label_and_starting_states(catalog, tmp_path):
    path = write_csv(
        tmp_path / "st.csv",
        [
            ["型号", "序列号", "状态", "使用部门", "内存"],
            ["ThinkPad X1", "S1", "In use", "QA", "8GB"],
            ["ThinkPad X1", "S2", "已订购", "", "8GB"],
            ["ThinkPad X1", "S3", "借出", "", "8GB"],
            ["ThinkPad X1", "S4", "坏了", "", "8GB"],
            ["ThinkPad X1", "S5", "在用", "", "8GB"],
        ],
    )

    result = import_file(kind="assets", path=path)

    assert [(e.row, e.column, e.reason.split(";")[0]) for e in result.errors] == [
        (4, "状态", "A new asset cannot start as “On loan”"),
        (5, "状态", "Unknown status “坏了”"),
        (6, "状态", "An asset in use needs a user or a using department."),
    ]


def test_the_category_must_be_the_models(catalog, tmp_path):
    path = write_csv(tmp_path / "c.csv", [["型号", "分类", "内存"], ["ThinkPad X1", "PC", "8GB"]])

    result = import_file(kind="assets", path=path)

    assert _errors(result) == [
        (2, "分类", "PC", "The model belongs to category “计算机设备/笔记本电脑”.")
    ]


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_csv_encodings_are_detected(catalog, tmp_path, encoding, detected):
    path = write_csv(
        tmp_path / "e.csv",
        [
            ["型号", "序列号", "使用部门", "备注", "内存"],
            ["ThinkPad X1", "S1", "测试部", "测试备注", "8GB"],
        ],
        encoding=encoding,
    )

    result = import_file(kind="assets", path=path)

    assert (result.errors, result.encoding) == ([], detected)
    assert Asset.objects.get().notes == "测试备注"


def test_a_wrong_encoding_given_explicitly_is_reported(catalog, tmp_path):
    path = write_csv(
        tmp_path / "e.csv", [["型号", "备注"], ["ThinkPad X1", "备注"]], encoding="gbk"
    )

    result = import_file(kind="assets", path=path, encoding="utf-8")

    assert [e.reason for e in result.errors] == [
        "The file cannot be read as utf-8 text. Save it as “CSV UTF-8” or as an .xlsx "
        "workbook, or name its encoding."
    ]
    assert codecs.lookup("gbk")


def test_xlsx_with_a_named_sheet(catalog, tmp_path):
    path = tmp_path / "two.xlsx"
    from itassets.xlsx import XlsxWriter

    with open(path, "wb") as f, XlsxWriter(f) as book:
        book.sheet("说明").append(["这是说明页"])
        sheet = book.sheet("资产")
        sheet.append(["型号", "序列号", "内存"])
        sheet.append(["ThinkPad X1", "S1", "8GB"])

    assert import_file(kind="assets", path=path).errors[0].reason.startswith("No header row")
    result = import_file(kind="assets", path=path, sheet="资产")
    assert (result.errors, result.created) == ([], 1)
    missing = import_file(kind="assets", path=path, sheet="没有")
    assert missing.errors[0].reason == (
        "There is no sheet named “没有”; the workbook has: 说明、资产."
    )


def test_new_explicit_tags_never_clash_with_reserved_tags(catalog, tmp_path):
    # given a file whose explicit new tag is the next number of the sequence
    from assets.services import tag_prefix

    prefix, fmt = tag_prefix()
    next_tag = prefix + fmt.format(seq=1)
    path = write_xlsx(
        tmp_path / "t.xlsx",
        [
            ["资产编号", "型号", "序列号", "内存"],
            [next_tag, "ThinkPad X1", "S1", "8GB"],
            ["", "ThinkPad X1", "S2", "8GB"],
        ],
    )

    result = import_file(kind="assets", path=path)

    assert result.errors == []
    assert Asset.objects.get(serial_number="S1").tag == next_tag
    assert Asset.objects.get(serial_number="S2").tag == prefix + fmt.format(seq=2)


def test_queries_do_not_grow_with_rows(catalog, tmp_path):
    # given 5,000 new rows and 100 updates of existing assets
    for i in range(100):
        _asset(catalog, tag=f"OLD-{i}", serial_number=f"OLD-SN-{i}")
    rows = [[f"OLD-{i}", "", "", "", "", "", "", "¥2,000", ""] for i in range(100)]
    rows += [
        ["", "ThinkPad X1", f"SN{i}", "E001", "QA", "R301", "在用", "¥1,000", "8GB"]
        for i in range(5000)
    ]
    path = write_csv(tmp_path / "big.csv", [HEADER, *rows])

    # when imported
    with CaptureQueriesContext(connection) as ctx:
        result = import_file(kind="assets", path=path)

    # then a few queries per 2,000-row chunk and per 5,000-row write batch, never per row
    assert (result.errors, result.created, result.updated) == ([], 5000, 100)
    assert len(ctx.captured_queries) < 60, len(ctx.captured_queries)
    assert Asset.objects.filter(cost=Decimal("2000")).count() == 100
    assert Asset.objects.filter(department=catalog["qa"]).count() == 5000
    assert AssetEvent.objects.count() == 5000


def test_any_text_is_stored_exactly(catalog, tmp_path):
    # given texts with quotes, backslashes, line breaks, placeholders and 4-byte characters
    tricky = "O'Brien \"引号\" C:\\temp\\ 100% %s\n第二行\t制表 \x1a 😀 ' OR '1'='1"
    path = write_csv(
        tmp_path / "t.csv",
        [
            ["型号", "序列号", "备注", "资产名称", "内存"],
            ["ThinkPad X1", "S'1\\", tricky, "名'称", "8GB"],
        ],
    )

    result = import_file(kind="assets", path=path)

    assert result.errors == []
    asset = Asset.objects.get()
    assert (asset.notes, asset.serial_number, asset.name) == (tricky, "S'1\\", "名'称")
    assert AssetEvent.objects.get().payload == {"file": "t.csv", "row": 2}


def test_new_ids_are_looked_up_where_the_database_cannot_return_them(
    catalog, tmp_path, monkeypatch
):
    # given a database without INSERT … RETURNING (MySQL 8, as in docker-compose)
    monkeypatch.setattr(
        type(connection.features), "can_return_rows_from_bulk_insert", False, raising=False
    )
    rows = [["", "ThinkPad X1", f"SN{i}", "", "", "", "", "", "8GB"] for i in range(3)]
    path = write_csv(tmp_path / "ids.csv", [HEADER, *rows])

    result = import_file(kind="assets", path=path)

    # then each import event belongs to the asset of its row
    assert (result.errors, result.created) == ([], 3)
    assert list(
        AssetEvent.objects.order_by("payload__row").values_list(
            "asset__serial_number", "payload__row"
        )
    ) == [("SN0", 2), ("SN1", 3), ("SN2", 4)]
