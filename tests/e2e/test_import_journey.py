"""A clerk imports an asset register in the browser: uploads a file with errors, sees the bad
cells highlighted in the preview, fixes the file, uploads it again and imports it."""

from playwright.sync_api import expect

from assets.models import Asset, AssetEvent
from assets.tests.import_helpers import make_catalog, write_xlsx

HEADER = ["资产编号", "资产名称", "型号", "序列号", "使用部门", "购置日期", "金额", "内存"]


def test_clerk_fixes_a_bad_file_and_imports_it(page, login, tmp_path, screenshots):
    # given a catalog and a workbook with a title row and two bad cells
    make_catalog()
    rows = [
        [
            "",
            "研发笔记本",
            "ThinkPad X1",
            "SN-E2E-1",
            "总部/研发中心/测试部",
            "2024/5/1",
            "¥8,999",
            "16GB",
        ],
        ["", "备用机", "ThinkPad X1", "SN-E2E-2", "不存在的部门", "2024-05-01", "一万", "8GB"],
        ["", "会议室", "21KC", "SN-E2E-3", "QA", "2024年5月1日", "1200元", "32GB"],
    ]
    bad = write_xlsx(tmp_path / "资产台账.xlsx", [["2024年资产盘点"], HEADER, *rows])
    login(page, "clerk")

    # when the clerk uploads it from the import page
    page.goto("/imports/")
    page.get_by_test_id("upload-form").locator("select[name=kind]").select_option("assets")
    page.get_by_test_id("upload-form").locator("input[name=file]").set_input_files(str(bad))
    page.get_by_test_id("upload-submit").click()

    # then the preview shows the two bad cells in red, with their reasons, and no import button
    panel = page.get_by_test_id("job-panel")
    expect(panel).to_have_attribute("data-state", "invalid")
    expect(page.get_by_test_id("count-errors")).to_have_text("2")
    preview = page.get_by_test_id("error-preview")
    bad_cells = preview.locator("td.table-danger")
    expect(bad_cells).to_have_count(2)
    expect(bad_cells.nth(0)).to_contain_text("不存在的部门")
    expect(bad_cells.nth(1)).to_contain_text("一万")
    expect(preview.locator("tr[data-row='4']")).to_be_visible()
    expect(page.get_by_test_id("error-workbook")).to_be_visible()
    expect(page.get_by_test_id("confirm-import")).to_have_count(0)
    page.screenshot(path=screenshots / "import-errors.png", full_page=True)
    assert not Asset.objects.exists()

    # when the clerk fixes the two cells and uploads the file again
    rows[1][4], rows[1][6] = "QA", "¥10,000"
    fixed = write_xlsx(tmp_path / "资产台账-改.xlsx", [["2024年资产盘点"], HEADER, *rows])
    page.get_by_test_id("upload-again").click()
    page.get_by_test_id("upload-form").locator("select[name=kind]").select_option("assets")
    page.get_by_test_id("upload-form").locator("input[name=file]").set_input_files(str(fixed))
    page.get_by_test_id("upload-submit").click()

    # then the file checks clean: three new assets, nothing written yet
    expect(page.get_by_test_id("job-panel")).to_have_attribute("data-state", "valid")
    expect(page.get_by_test_id("count-created")).to_have_text("3")
    assert not Asset.objects.exists()

    # when the clerk confirms the import
    page.get_by_test_id("confirm-import").click()

    # then the panel reports the import and the assets exist with their import events
    expect(page.get_by_test_id("job-done")).to_be_visible()
    page.screenshot(path=screenshots / "import-done.png", full_page=True)
    assert sorted(Asset.objects.values_list("serial_number", flat=True)) == [
        "SN-E2E-1",
        "SN-E2E-2",
        "SN-E2E-3",
    ]
    assert AssetEvent.objects.filter(transition="import").count() == 3
