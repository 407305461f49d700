"""The shared CSV/XLSX writers: formula neutralisation, encodings, cell types."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from itassets.exports import neutralise, rows_to_csv, rows_to_xlsx


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1+1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_gets_an_apostrophe(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["总部", "a=b", "", None, -5, Decimal("-1.50")])
def test_other_values_are_unchanged(value):
    assert neutralise(value) == value


def test_csv_round_trip_keeps_chinese_and_numbers():
    body = rows_to_csv(["名称", "金额"], [['=HYPERLINK("x")', Decimal("-12.50")], ["联想", 3]])

    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [["名称", "金额"], ['\'=HYPERLINK("x")', "-12.50"], ["联想", "3"]]


def test_xlsx_round_trip_keeps_types_and_text():
    when = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
    body = rows_to_xlsx(
        ["名称", "数量", "日期", "时间", "备注"],
        [["=1+2", 3, date(2026, 1, 2), when, "bad\x00char"]],
        title="供应商/导出",
    )

    wb = load_workbook(io.BytesIO(body))
    sheet = wb.active
    assert sheet.title == "供应商导出"
    header, row = list(sheet.iter_rows(values_only=True))
    assert header == ("名称", "数量", "日期", "时间", "备注")
    assert row[0] == "'=1+2"
    assert sheet.cell(row=2, column=1).data_type == "s"
    assert row[1] == 3
    assert row[2].date() == date(2026, 1, 2)
    assert row[3] == datetime(2026, 3, 1, 10, 0)
    assert row[4] == "badchar"
