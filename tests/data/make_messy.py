#!/usr/bin/env python
"""Write ``messy_assets.xlsx`` and ``messy_assets_gbk.csv``: an asset register as
organisations really keep it, with every problem the import must report.

    python tests/data/make_messy.py

Both files hold the same rows. The catalog they refer to is
``assets.tests.import_helpers.make_catalog`` (plus an existing asset with serial number
``SN-EXIST-1``). The expected errors are listed in ``EXPECTED`` (row as Excel shows it, header,
reason msgid) and asserted by ``assets/tests/test_import_messy.py``.

Problems: two title rows and a blank row above the header; a row-number column (序号) and an
unknown column (采购渠道); Excel dates, Excel serial numbers, 2024/5/1, 2024年5月1日, 20240501
and an impossible date; ¥ amounts with thousands separators and 元; a duplicate tag; a
duplicate serial number within the file and one that belongs to an asset in the database; an
unknown department; wrong types in custom fields; a missing model and a missing required
custom field; a status that cannot start an asset's life. The CSV is GBK (GB18030) encoded.
"""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

TITLE = ["2024年度信息化资产盘点表"]
SUBTITLE = ["填表单位：信息部", "", "", "", "", "", "填表日期：2024年6月30日"]
HEADER = [
    "序号",
    "资产编号",
    "资产名称",
    "型号",
    "品牌",
    "序列号",
    "使用人",
    "使用部门",
    "存放地点",
    "购置日期",
    "原值",
    "保修截止",
    "状态",
    "内存",
    "内存插槽",
    "处理器",
    "备注",
    "采购渠道",
]
# Data rows start at Excel row 5 (title, subtitle, blank, header above).
ROWS = [
    # 5: good, Excel date, ¥ amount, Excel serial warranty end (2027-05-01)
    [
        1,
        "",
        "研发笔记本",
        "ThinkPad X1",
        "联想",
        "SN-A001",
        "张三",
        "总部/研发中心/测试部",
        "总部园区/A座/301室",
        datetime(2024, 5, 1),
        "¥12,999.00",
        46508,
        "在用",
        "16GB",
        2,
        "i7-1365U",
        "",
        "京东",
    ],
    # 6: good, 2024/5/1, 元, 2027年5月1日, by codes
    [
        2,
        "",
        "",
        "21KC",
        "",
        "SN-A002",
        "",
        "QA",
        "R301",
        "2024/5/1",
        "8,999元",
        "2027年5月1日",
        "在库",
        "32GB",
        "",
        "",
        "备用机",
        "线下",
    ],
    # 7: good, explicit tag, 20240501
    [
        3,
        "IT-M-0001",
        "会议室电脑",
        "ThinkPad X1",
        "联想",
        "SN-A003",
        "",
        "RD",
        "R301",
        "20240501",
        "￥1,234.50",
        "",
        "",
        "8GB",
        "",
        "",
        "",
        "",
    ],
    # 8: duplicate tag (row 7)
    [
        4,
        "IT-M-0001",
        "重复编号",
        "ThinkPad X1",
        "联想",
        "SN-A004",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "8GB",
        "",
        "",
        "",
        "",
    ],
    # 9: a new tag with a serial number that belongs to another asset in the database
    [
        5,
        "IT-M-0009",
        "",
        "ThinkPad X1",
        "联想",
        "SN-EXIST-1",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "8GB",
        "",
        "",
        "",
        "",
    ],
    # 10: unknown department
    [
        6,
        "",
        "",
        "ThinkPad X1",
        "联想",
        "SN-A006",
        "",
        "总部/不存在的部门",
        "",
        "",
        "",
        "",
        "",
        "8GB",
        "",
        "",
        "",
        "",
    ],
    # 11: wrong types in custom fields (not an option, not a whole number)
    [
        7,
        "",
        "",
        "ThinkPad X1",
        "联想",
        "SN-A007",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "64GB",
        "两个",
        "",
        "",
        "",
    ],
    # 12: missing model (required for a new asset)
    [8, "", "无型号", "", "", "SN-A008", "", "", "", "", "", "", "", "8GB", "", "", "", ""],
    # 13: missing required custom field 内存 (of category 笔记本电脑)
    [9, "", "", "ThinkPad X1", "联想", "SN-A009", "", "", "", "", "", "", "", "", "", "", "", ""],
    # 14: a status a new asset cannot start in
    [
        10,
        "",
        "",
        "ThinkPad X1",
        "联想",
        "SN-A010",
        "",
        "",
        "",
        "",
        "",
        "",
        "已报废",
        "8GB",
        "",
        "",
        "",
        "",
    ],
    # 15: impossible date and an amount that is not one
    [
        11,
        "",
        "",
        "ThinkPad X1",
        "联想",
        "SN-A011",
        "",
        "",
        "",
        "2024-13-45",
        "一万",
        "",
        "",
        "8GB",
        "",
        "",
        "",
        "",
    ],
    # 16: duplicate serial number within the file (row 5)
    [
        12,
        "",
        "",
        "ThinkPad X1",
        "联想",
        "SN-A001",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "8GB",
        "",
        "",
        "",
        "",
    ],
]
# (row, header, reason msgid or its start): every error the import must report, in order.
EXPECTED = [
    (8, "资产编号", "Duplicate asset tag: also in row 7."),
    (9, "序列号", "This serial number already belongs to asset IT-EXIST-1."),
    (10, "使用部门", "Unknown department “总部/不存在的部门”: give its code or full path."),
    (11, "内存", "Not one of the options: 8GB、16GB、32GB."),
    (11, "内存插槽", "Not a whole number."),
    (12, "型号", "Required for a new asset."),
    (13, "内存", "Required for this category."),
    (14, "状态", "A new asset cannot start as “Disposed”; use On order、In stock / idle、In use."),
    (
        15,
        "购置日期",
        "No such date. Use a date such as 2024-05-01, 2024/5/1, 2024年5月1日 or 20240501.",
    ),
    (15, "原值", "Not a number."),
    (16, "序列号", "Duplicate serial number: also in row 5."),
]


def _csv_value(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    # GBK has no "¥" (U+00A5): Chinese Windows writes the full-width "￥".
    return "" if value is None else str(value).replace("¥", "￥")


def write_xlsx(path: Path) -> None:
    from itassets.xlsx import STYLE_BOLD, XlsxWriter

    with open(path, "wb") as f, XlsxWriter(f, compresslevel=9) as book:
        sheet = book.sheet("资产台账")
        sheet.append(TITLE, styles=[STYLE_BOLD])
        sheet.append(SUBTITLE)
        sheet.append([])
        sheet.append(HEADER, styles=[STYLE_BOLD] * len(HEADER))
        for row in ROWS:
            sheet.append(row)


def write_gbk_csv(path: Path) -> None:
    with open(path, "w", encoding="gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TITLE)
        writer.writerow(SUBTITLE)
        writer.writerow([])
        writer.writerow(HEADER)
        for row in ROWS:
            writer.writerow([_csv_value(v) for v in row])


def main() -> None:
    write_xlsx(HERE / "messy_assets.xlsx")
    write_gbk_csv(HERE / "messy_assets_gbk.csv")
    print(f"wrote {HERE / 'messy_assets.xlsx'} and {HERE / 'messy_assets_gbk.csv'}")


if __name__ == "__main__":
    main()
