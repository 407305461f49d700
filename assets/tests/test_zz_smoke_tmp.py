import pytest
from assets.tests.import_helpers import make_catalog, write_csv, write_xlsx
from itassets.importing.service import import_file
from assets.models import Asset, AssetEvent

def test_smoke(db, tmp_path):
    c = make_catalog()
    p = write_csv(tmp_path / "a.csv", [
        ["资产清单"],
        ["资产编号", "型号", "序列号", "使用人", "使用部门", "存放地点", "购置日期", "金额", "内存", "处理器", "状态", "怪列"],
        ["", "ThinkPad X1", "SN1", "张三", "总部/研发中心/测试部", "R301", "2024/5/1", "¥12,999.00", "16GB", "i7", "在用", "x"],
        ["IT-X-1", "21KC", "SN2", "", "QA", "总部园区/A座/301室", "2024年5月1日", "8999元", "32GB", "", "", ""],
        ["IT-X-1", "21KC", "SN3", "", "QA", "", "20240501", "abc", "64GB", "", "已处置", ""],
    ])
    r = import_file(kind="assets", path=p, dry_run=False)
    for e in r.errors: print(e)
    print(r.summary(), r.warnings)
    p = write_csv(tmp_path / "b.csv", [
        ["资产编号", "型号", "序列号", "使用人", "使用部门", "存放地点", "购置日期", "金额", "内存", "处理器", "状态"],
        ["", "ThinkPad X1", "SN1", "张三", "总部/研发中心/测试部", "R301", "2024/5/1", "¥12,999.00", "16GB", "i7", "在用"],
        ["IT-X-1", "21KC", "SN2", "", "QA", "总部园区/A座/301室", "2024年5月1日", "8999元", "32GB", "", ""],
    ])
    r = import_file(kind="assets", path=p, dry_run=False)
    for e in r.errors: print(e)
    print(r.summary(), r.warnings)
    print(list(Asset.objects.values_list("tag", "status", "custom_fields", "cost", "warranty_end")))
    print(list(AssetEvent.objects.values_list("transition", "payload")))
    r = import_file(kind="assets", path=p, dry_run=False)
    print(r.summary())
    assert 0
