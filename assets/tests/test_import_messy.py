"""The messy workbook (tests/data/messy_assets.xlsx and its GBK CSV twin): every problem is
reported at its cell, nothing is written, and once fixed the same file imports."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from openpyxl import load_workbook

from assets.models import Asset, AssetEvent
from assets.tests.factories import AssetFactory
from assets.tests.import_helpers import make_catalog, write_csv, write_xlsx
from itassets.importing.service import import_file
from tests.data import make_messy

DATA = Path(make_messy.__file__).resolve().parent
XLSX = DATA / "messy_assets.xlsx"
GBK_CSV = DATA / "messy_assets_gbk.csv"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def catalog(db):
    catalog = make_catalog()
    AssetFactory(
        tag="IT-EXIST-1",
        model=catalog["x1"],
        category=catalog["laptop"],
        manufacturer=catalog["lenovo"],
        serial_number="SN-EXIST-1",
    )
    return catalog


def _errors(result):
    return [(e.row, e.column, e.reason) for e in result.errors]


def test_the_committed_files_are_what_the_script_writes(tmp_path, monkeypatch):
    # given the generator pointed at a scratch directory
    monkeypatch.setattr(make_messy, "HERE", tmp_path)

    # when it runs
    make_messy.main()

    # then it writes the committed files byte for byte (the writer is deterministic)
    assert (tmp_path / "messy_assets.xlsx").read_bytes() == XLSX.read_bytes()
    assert (tmp_path / "messy_assets_gbk.csv").read_bytes() == GBK_CSV.read_bytes()


@pytest.mark.parametrize("path", [XLSX, GBK_CSV], ids=["xlsx", "gbk-csv"])
def test_every_problem_is_reported_at_its_cell_and_nothing_is_written(catalog, path):
    # given the messy file and a register with one asset
    before = Asset.objects.count()

    # when it is imported for real
    result = import_file(kind="assets", path=path)

    # then every expected error is listed with its row, header and reason, and only those
    assert _errors(result) == make_messy.EXPECTED
    # the header was found below the title rows, the unknown column reported
    assert result.header_row == 4
    assert result.warnings == ["Columns not imported (unknown headers): 采购渠道"]
    # and nothing was written
    assert not result.written
    assert Asset.objects.count() == before
    assert not AssetEvent.objects.exists()


def test_the_gbk_csv_is_detected(catalog):
    result = import_file(kind="assets", path=GBK_CSV, dry_run=True)

    assert result.encoding == "gb18030"
    assert len(result.errors) == len(make_messy.EXPECTED)


def test_the_values_of_the_good_rows_are_understood(catalog, tmp_path):
    # given only the good rows of the messy workbook (rows 5–7), below a title
    path = write_xlsx(
        tmp_path / "good.xlsx", [make_messy.TITLE, [], make_messy.HEADER, *make_messy.ROWS[:3]]
    )

    # when imported
    result = import_file(kind="assets", path=path)

    # then three assets exist with dates, amounts, references and custom fields parsed
    assert result.errors == []
    assert (result.created, result.updated) == (3, 0)
    first = Asset.objects.get(serial_number="SN-A001")
    assert (str(first.purchase_date), str(first.cost), str(first.warranty_end)) == (
        "2024-05-01",
        "12999.00",
        "2027-05-01",
    )
    assert (first.status, first.holder, first.department, first.location) == (
        "in_use",
        catalog["person"],
        catalog["qa"],
        catalog["room"],
    )
    assert first.custom_fields == {"memory": "16GB", "ram_slots": 2, "cpu": "i7-1365U"}
    second = Asset.objects.get(serial_number="SN-A002")
    assert (second.name, second.status, str(second.cost), str(second.warranty_end)) == (
        "ThinkPad X1",
        "in_stock",
        "8999.00",
        "2027-05-01",
    )
    third = Asset.objects.get(tag="IT-M-0001")
    assert (str(third.purchase_date), str(third.cost), third.department) == (
        "2024-05-01",
        "1234.50",
        catalog["rd"],
    )


def test_the_command_exits_non_zero_prints_the_errors_and_writes_the_error_workbook(
    catalog, tmp_path, capsys
):
    # given a copy of the messy workbook
    path = tmp_path / "messy.xlsx"
    path.write_bytes(XLSX.read_bytes())

    # when the command imports it
    with pytest.raises(CommandError) as exc:
        call_command("import_assets", str(path), "--language", "en", "--no-progress")

    # then it fails with exit code 1, lists the errors, writes nothing
    assert exc.value.returncode == 1
    assert "11 errors in 9 rows: nothing was imported." in str(exc.value)
    out = capsys.readouterr().out
    assert "row 8 资产编号 “IT-M-0001”: Duplicate asset tag: also in row 7." in out
    assert "Columns not imported (unknown headers): 采购渠道" in out
    assert Asset.objects.count() == 1
    # and the error workbook marks the bad cells red with a reason column
    book = load_workbook(tmp_path / "messy.errors.xlsx")
    data = book.worksheets[0]
    header = [c.value for c in data[1]]
    assert header[-1] == "Errors"
    assert header[:-1] == make_messy.HEADER
    tag_cell = data.cell(row=1 + 4, column=2)  # Excel row 8 is the 4th data row
    assert tag_cell.value == "IT-M-0001"
    assert tag_cell.fill.fgColor.rgb == "FFFFC7CE"
    assert data.cell(row=1 + 4, column=len(header)).value == (
        "资产编号: Duplicate asset tag: also in row 7."
    )
    assert data.cell(row=2, column=2).fill.fgColor.rgb != "FFFFC7CE"
    listed = list(book.worksheets[1].iter_rows(min_row=2, values_only=True))
    assert [(r, c, reason) for r, c, _v, reason in listed] == make_messy.EXPECTED


def test_dry_run_of_the_fixed_rows_writes_nothing(catalog, tmp_path):
    path = write_csv(tmp_path / "ok.csv", [make_messy.HEADER, *make_messy.ROWS[:3]])

    result = import_file(kind="assets", path=path, dry_run=True)

    assert (result.errors, result.created, result.written) == ([], 3, False)
    assert Asset.objects.count() == 1
