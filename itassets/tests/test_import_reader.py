"""Reading spreadsheets for imports: types, encodings, limits, zip bombs, header search, the
fast .xlsx reader and writer, and the cell value parsers."""

import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.utils import translation
from openpyxl import load_workbook

from itassets.importing import reader
from itassets.importing.reader import ReadError, detect_encoding, find_header, open_table
from itassets.importing.values import (
    CellError,
    cell_text,
    header_candidates,
    normalise_header,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_int,
)
from itassets.xlsx import STYLE_BOLD, STYLE_ERROR, XlsxBook, XlsxWriter


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _rows(path, **kwargs):
    with open_table(path, **kwargs) as table:
        return list(table.rows)


# --- encodings and types --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
        ("utf-16", "utf-16"),
    ],
)
def test_csv_encoding_is_detected(tmp_path, encoding, expected):
    path = tmp_path / "a.csv"
    path.write_text("资产编号,名称\nIT-1,笔记本电脑\n", encoding=encoding)

    assert detect_encoding(path) == expected
    assert _rows(path) == [(1, ["资产编号", "名称"]), (2, ["IT-1", "笔记本电脑"])]


def test_a_late_gbk_byte_after_a_megabyte_of_ascii_is_still_detected(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(b"a,b\n" + b"x,y\n" * 300_000 + "中,文\n".encode("gbk"))

    assert detect_encoding(path) == "gb18030"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_sniffed(tmp_path, delimiter):
    path = tmp_path / "d.csv"
    path.write_text(f"型号{delimiter}序列号\nX1{delimiter}S,1\n", encoding="utf-8")

    assert _rows(path)[1] == (2, ["X1", "S,1"])


def test_blank_rows_are_skipped_but_keep_their_numbers(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("a,b\n,\n\n1,2\n", encoding="utf-8")

    assert _rows(path) == [(1, ["a", "b"]), (4, ["1", "2"])]


def test_old_xls_workbooks_and_binary_files_are_refused(tmp_path):
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\x7fELF\x00\x00\x00")

    with pytest.raises(ReadError, match=r"Old \.xls workbooks cannot be imported"):
        open_table(xls)
    with pytest.raises(ReadError, match="Unsupported file type"):
        open_table(binary)


def test_a_damaged_workbook_is_reported(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")

    with pytest.raises(ReadError, match=r"damaged or not an \.xlsx file"):
        open_table(path)


# --- limits ---------------------------------------------------------------------------------


def test_files_over_the_size_limit_are_refused(tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 10
    path = tmp_path / "big.csv"
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")

    with pytest.raises(ReadError, match=r"too large \(0.0 MB\); the limit is 0.0 MB"):
        open_table(path)


def _bomb(path, size: int):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(size // len(chunk)):
                member.write(chunk)


def test_a_zip_bomb_is_refused_from_its_directory_before_parsing(tmp_path, settings):
    # given a 4 MB "workbook" that unpacks to 64 MB of zeros
    path = tmp_path / "bomb.xlsx"
    _bomb(path, 64 << 20)
    assert path.stat().st_size < 1 << 20

    # when the unpacked size exceeds the limit, it is refused unopened
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 32 << 20
    with pytest.raises(ReadError, match=r"unpacks to 64\.0 MB, more than the 32\.0 MB allowed"):
        open_table(path)

    # and within the size limit, the compression ratio gives it away
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 1 << 30
    with pytest.raises(ReadError, match=r"compressed \d+ times"):
        open_table(path)


def test_ordinary_workbooks_pass_the_zip_check(tmp_path):
    path = tmp_path / "ok.xlsx"
    with open(path, "wb") as f, XlsxWriter(f) as book:
        sheet = book.sheet("S")
        for i in range(2000):
            sheet.append([f"IT-{i:06d}", "笔记本电脑", i, date(2024, 1, 1)])

    assert reader.check_zip(path) > 0


# --- header ---------------------------------------------------------------------------------


def test_the_header_is_found_below_title_rows():
    rows = iter([(1, ["盘点表"]), (2, ["日期", "", "2024"]), (4, ["资产编号", "型号"]), (5, ["a"])])
    known = {"资产编号", "型号", "日期"}

    header = find_header(rows, lambda cells: sum(c in known for c in cells))

    assert header == (4, ["资产编号", "型号"])
    assert next(rows) == (5, ["a"])


def test_no_header_in_the_first_rows_is_none():
    rows = iter([(n, ["x"]) for n in range(1, 100)])

    assert find_header(rows, lambda cells: 0) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (" 资产编号* ", ["资产编号"]),
        ("金额（元）", ["金额(元)", "金额"]),
        ("Serial  Number", ["serialnumber"]),
        ("ＳＮ：", ["sn"]),
    ],
)
def test_headers_are_normalised(header, expected):
    assert header_candidates(header) == expected
    assert normalise_header(header) == expected[0]


# --- xlsx reader and writer -----------------------------------------------------------------


def test_the_xlsx_writer_output_reads_back_with_openpyxl_and_the_fast_reader(tmp_path):
    path = tmp_path / "w.xlsx"
    with open(path, "wb") as f, XlsxWriter(f) as book:
        sheet = book.sheet("资产/列表", widths=[12, 30])
        sheet.append(["编号", "名称", "日期", "时间", "金额", "是否"], styles=[STYLE_BOLD] * 6)
        sheet.append(
            [
                "IT-1",
                '<&> "引号"',
                date(2024, 5, 1),
                datetime(2024, 5, 1, 8, 30),
                Decimal("9.50"),
                True,
            ],
            styles={1: STYLE_ERROR},
        )
        sheet.append([None, "", "bad\x00char", "_x000D_ literal"])
        book.sheet("第二页").append(["x"])

    wb = load_workbook(path)
    ws = wb["资产列表"]
    assert [c.value for c in ws[2]] == [
        "IT-1",
        '<&> "引号"',
        datetime(2024, 5, 1),
        datetime(2024, 5, 1, 8, 30),
        9.5,
        True,
    ]
    assert ws["A1"].font.b
    assert ws["B2"].fill.fgColor.rgb == "FFFFC7CE"
    assert ws["C2"].number_format == "yyyy-mm-dd"
    assert ws["C3"].value == "badchar"
    assert wb.sheetnames == ["资产列表", "第二页"]
    with XlsxBook(path) as book:
        assert book.sheet_names == ["资产列表", "第二页"]
        rows = list(book.rows())
    assert rows[1] == (
        2,
        ["IT-1", '<&> "引号"', datetime(2024, 5, 1), datetime(2024, 5, 1, 8, 30), 9.5, True],
    )
    assert rows[2] == (3, [None, None, "badchar", "_x000D_ literal"])


_EXCEL_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override '
        'PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'sharedStrings+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats'
        '.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets><sheet name="台账" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    ),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.'
        'openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font/></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0"/>'
        '<xf numFmtId="14" applyNumberFormat="1"/></cellXfs><cellStyles count="1">'
        '<cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    ),
    "xl/sharedStrings.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" count="4" uniqueCount="4"><si><t>资产编号</t></si>'
        "<si><t>金额</t></si><si><r><rPr><b/></rPr><t>购置</t></r><r><t>日期</t></r></si>"
        '<si><t xml:space="preserve">IT-2 &amp; 3</t><rPh sb="0" eb="1"><t>ア</t></rPh></si>'
        "<si><t>一行_x000D_\n二行</t></si>"
        "</sst>"
    ),
    "xl/worksheets/sheet1.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
        '.org/spreadsheetml/2006/main"><dimension ref="A1:E5"/><sheetData>'
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c></row>'
        '<row r="3"><c r="A3" t="s"><v>3</v></c><c r="B3"><f>1+2</f><v>3</v></c>'
        '<c r="C3" s="1"><v>45413</v></c><c r="E3" t="str"><f>A3</f><v>远处</v></c></row>'
        '<row r="5"><c t="b"><v>1</v></c><c t="e"><v>#N/A</v></c><c><v>1.5E3</v></c>'
        '<c t="inlineStr"><is><t>内联</t></is></c><c t="s"><v>4</v></c></row>'
        "</sheetData></worksheet>"
    ),
}


def test_the_fast_reader_reads_excel_style_shared_strings_formulas_and_gaps(tmp_path):
    # given a workbook as Excel writes it: shared strings (rich text, phonetic runs), a date
    # style, formulas with cached values, skipped rows and cells, cells without references
    path = tmp_path / "excel.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in _EXCEL_PARTS.items():
            z.writestr(name, text)

    with XlsxBook(path) as book:
        rows = list(book.rows("台账"))

    assert rows == [
        (1, ["资产编号", "金额", "购置日期"]),
        (3, ["IT-2 & 3", 3, datetime(2024, 5, 1), None, "远处"]),
        (5, [True, "#N/A", 1500, "内联", "一行\r\n二行"]),
    ]
    with open_table(path) as table:
        assert table.estimated_rows == 5


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01",
        "2024/5/1",
        "2024.5.1",
        "2024年5月1日",
        "2024 年 5 月 1 日",
        "20240501",
        20240501,
        45413,
        45413.75,
        "45413",
        "2024-05-01 00:00:00",
        "２０２４－０５－０１",
        datetime(2024, 5, 1, 13, 0),
        date(2024, 5, 1),
    ],
)
def test_dates_in_every_common_form(value):
    assert parse_date(value) == date(2024, 5, 1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2024-02-30", "No such date."),
        ("5/1/2024", "Not a date."),
        ("明天", "Not a date."),
        (0, "Not a date."),
    ],
)
def test_bad_dates(value, reason):
    with pytest.raises(CellError, match=reason):
        parse_date(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("¥12,999.00", "12999.00"),
        ("￥1,234.5", "1234.50"),
        ("8,999元", "8999.00"),
        ("1.2万", "12000.00"),
        ("RMB 100", "100.00"),
        (12999.5, "12999.50"),
        (3, "3.00"),
        ("  ５０  ", "50.00"),
    ],
)
def test_amounts(value, expected):
    assert parse_decimal(value) == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "Not a number."),
        ("1.234", "At most 2 decimal places."),
        ("-1", "Must be at least 0."),
        ("1" * 20, "The number is too large."),
    ],
)
def test_bad_amounts(value, reason):
    with pytest.raises(CellError, match=reason):
        parse_decimal(value, minimum=Decimal(0))


def test_integers_and_yes_no():
    assert [parse_int(v) for v in ("12", 12.0, "1,200", "３")] == [12, 12, 1200, 3]
    with pytest.raises(CellError, match=r"Not a whole number\."):
        parse_int("1.5")
    assert [parse_bool(v) for v in ("是", "否", "Yes", "n", "√", 1, False)] == [
        True,
        False,
        True,
        False,
        True,
        True,
        False,
    ]
    with pytest.raises(CellError, match="Not yes or no"):
        parse_bool("也许")


def test_cell_text_undoes_the_exports_formula_guard_and_drops_float_zeros():
    assert [
        cell_text(v) for v in ("'=1+2", "'-5", "'normal", 12345.0, 1.5, datetime(2024, 5, 1))
    ] == ["=1+2", "-5", "'normal", "12345", "1.5", "2024-05-01"]


def test_the_writer_can_write_shared_strings_as_excel_does(tmp_path):
    path = tmp_path / "sst.xlsx"
    with open(path, "wb") as f, XlsxWriter(f, shared_strings=True) as book:
        sheet = book.sheet("S")
        sheet.append(["名称", "数量"])
        sheet.append(["<联想>", 1])
        sheet.append(["<联想>", 2])

    with zipfile.ZipFile(path) as z:
        assert "xl/sharedStrings.xml" in z.namelist()
    assert list(load_workbook(path).active.iter_rows(values_only=True)) == [
        ("名称", "数量"),
        ("<联想>", 1),
        ("<联想>", 2),
    ]
    with XlsxBook(path) as book:
        assert book.shared_strings == ["名称", "数量", "<联想>"]
        assert [r for _n, r in book.rows()][2] == ["<联想>", 2]


def test_exports_share_repeated_texts_and_write_unique_ones_inline(tmp_path, monkeypatch):
    # given an export writer that lets a column share at most 3 texts
    from itassets import xlsx

    monkeypatch.setattr(xlsx, "SHARE_PER_COLUMN", 3)
    tricky = ["=1+2", "<联想> & Co", "_x000D_ literal", " 空格 ", "两行\n文本", "a\x01b", "x" * 300]
    rows = [[f"IT-{n}", "在用", tricky[n % len(tricky)], n, date(2024, 5, 1)] for n in range(14)]
    path = tmp_path / "export.xlsx"

    # when rows of unique tags, one repeated status and tricky texts are written
    with open(path, "wb") as f, XlsxWriter(f, share_repeated=True, neutralise=True) as book:
        sheet = book.sheet("S")
        sheet.append(["编号", "状态", "备注", "数量", "日期"], styles=[STYLE_BOLD] * 5)
        for row in rows:
            sheet.append(row)

    # then the tags after the third and the 300-character text are inline, the status shared
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    with XlsxBook(path) as book:
        shared = book.shared_strings
        read = [r for _n, r in book.rows()]
    assert shared == ["IT-0", "在用", "'=1+2", "IT-1", "<联想> & Co", "IT-2", "_x000D_ literal"]
    assert '<c r="A5" t="inlineStr"><is><t>IT-3</t></is></c>' in xml
    assert "x" * 300 + "</t>" in xml
    # and every value reads back as written: formula-like text neutralised, shared or inline,
    # the control character dropped, markup and look-alike escapes kept as text
    expected = [
        [f"IT-{n}", "在用", tricky[n % 7].replace("\x01", ""), n, datetime(2024, 5, 1)]
        for n in range(14)
    ]
    for row in expected:
        if row[2] == "=1+2":
            row[2] = "'=1+2"
    assert read[1:] == expected
    # (openpyxl does not decode _x005F_ in inline text, as Excel and our reader do)
    opened = [list(r) for r in load_workbook(path).active.iter_rows(values_only=True)][1:]
    assert [r for r in opened if "_x" not in r[2]] == [r for r in expected if "_x" not in r[2]]


def test_the_fast_reader_reads_workbooks_with_prefixed_elements(tmp_path):
    # given the same workbook written with an "x:" prefix on every sheet and string element
    import re

    def prefixed(xml: str) -> str:
        xml = re.sub(r"<(/?)([A-Za-z]+)([ />])", r"<\1x:\2\3", xml)
        return xml.replace(
            'xmlns="http://schemas.openxmlformats', 'xmlns:x="http://schemas.openxmlformats'
        )

    path = tmp_path / "prefixed.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in _EXCEL_PARTS.items():
            if name in ("xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"):
                text = prefixed(text)
                assert "<x:c " in text or "<x:si>" in text
            z.writestr(name, text)

    with XlsxBook(path) as book:
        rows = list(book.rows("台账"))

    assert rows[0] == (1, ["资产编号", "金额", "购置日期"])
    assert rows[2] == (5, [True, "#N/A", 1500, "内联", "一行\r\n二行"])


# --- the row scanner and expat read the same ----------------------------------------------


def _both_readers(path):
    """The rows as the scanner reads them (it must not hand over to expat) and as expat
    reads them."""
    from itassets import xlsx

    with XlsxBook(path) as book:
        wb = book._reader.wb
        member = book._sheets[book.sheet_names[0]]
        options = {
            "shared": book.shared_strings,
            "date_styles": {int(s) for s in wb._date_formats},
            "epoch": wb.epoch,
        }
        scanned = list(xlsx._scan_rows(book._reader.archive.open(member), **options))
        expat = list(xlsx._expat_rows(book._reader.archive.open(member), **options))
        served = list(book.rows())
    return scanned, expat, served


@pytest.mark.parametrize(
    "options", [{}, {"shared_strings": True}, {"share_repeated": True, "neutralise": True}]
)
def test_the_row_scanner_reads_what_expat_reads(tmp_path, options):
    # given a sheet of every kind of value our writer (and Excel) writes: texts with markup
    # characters, entities, line breaks and escapes, numbers, dates, booleans, gaps, long rows
    import random

    rng = random.Random(8)
    texts = ["<&> \"引号\" '单'", "a & b", "两行\n文本", "_x000D_ literal", "  空格  ", "😀", "x"]
    values = [*texts, 0, 1, -5, 1.5, 1e20, 12999.99, True, False, None, ""]
    values += [date(2024, 5, 1), datetime(2024, 5, 1, 8, 30), Decimal("9.50")]
    path = tmp_path / "kinds.xlsx"
    with open(path, "wb") as f, XlsxWriter(f, **options) as book:
        sheet = book.sheet("S")
        sheet.append(["标题"])
        sheet.append([])
        for n in range(300):
            width = rng.choice([1, 3, 20, 30])
            styles = {i: STYLE_ERROR for i in range(width) if rng.random() < 0.1}
            sheet.append([rng.choice(values) for _ in range(width)], styles=styles)

    # when read by the scanner and by expat
    scanned, expat, served = _both_readers(path)

    # then the rows are the same
    assert scanned == expat == served
    assert len(scanned) > 250


def test_the_scanner_hands_the_rest_of_the_sheet_to_expat_at_a_cell_it_does_not_read(tmp_path):
    # given a sheet whose rows are plain until a formula, then plain again
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats'
        '.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1"><v>45413</v></c></row>'
        '<row r="2" spans="1:3"><c r="A2" s="1" t="s"><v>1</v></c><c r="C2"><v>2</v></c></row>'
        '<row r="4"/>'
        '<row r="5"><c r="A5"><f>1+2</f><v>3</v></c><c r="B5" t="inlineStr"><is><t>a&amp;b'
        "</t></is></c></row>"
        '<row r="6"><c r="A6" t="b"><v>1</v></c><c r="B6" t="e"><v>#N/A</v></c></row>'
        "</sheetData></worksheet>"
    )
    path = tmp_path / "mixed.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in _EXCEL_PARTS.items():
            z.writestr(name, sheet if name == "xl/worksheets/sheet1.xml" else text)

    with XlsxBook(path) as book:
        rows = list(book.rows())

    # then every row comes once, as expat reads it
    assert rows == [
        (1, ["资产编号", datetime(2024, 5, 1)]),
        (2, ["金额", None, 2]),
        (5, [3, "a&b"]),
        (6, [True, "#N/A"]),
    ]
