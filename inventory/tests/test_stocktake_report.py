"""The closing report of an asset stocktake: figures per result, constant queries, the page
(full, htmx section, who may see it), the Excel export (formulas neutralised) and the PDF."""

import io
import subprocess

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from assets.tests.factories import AssetFactory
from inventory.models import Stocktake, StocktakeExpected
from inventory.services import stocktakes as services
from inventory.services.stocktake_results import (
    report_lines,
    report_unknown_codes,
    stocktake_report,
)

from .stocktake_helpers import build_site, closed_stocktake, count_all, start

Result = StocktakeExpected.Result


@pytest.fixture
def site(make_user):
    return build_site(make_user)


@pytest.fixture
def manager(make_user):
    return make_user("clerk")


@pytest.fixture
def counter(make_user):
    return make_user("clerk")


@pytest.fixture
def closed(site, manager, counter):
    return closed_stocktake(site, manager=manager, counter=counter)


def figures(report):
    return {s.key: (s.count, s.value) for s in report.sections}


def test_the_report_counts_and_values_every_result(closed):
    report = stocktake_report(stocktake=closed)

    assert {k: (n, str(v)) for k, (n, v) in figures(report).items()} == {
        "missing": (2, "4600.00"),
        "location_mismatch": (2, "2500.00"),
        "holder_mismatch": (1, "3000.00"),
        "unexpected": (1, "700.00"),
        "unknown": (2, "0"),
        "found": (1, "1000.00"),
    }
    assert (report.expected, str(report.expected_value)) == (6, "11100.00")
    assert (report.found, str(report.found_value)) == (4, "6500.00")
    assert report.found_percent == 67
    assert report.discrepancies == 8
    assert len(report.scope["locations"]) == 1
    assert report.scope["locations"][0].endswith("楼A")
    by_location = {row["expected_location__full_name"]: row for row in report.by_location}
    room2 = next(v for k, v in by_location.items() if k.endswith("102"))
    assert (room2["expected"], room2["found"], room2["missing"]) == (3, 1, 2)
    assert str(room2["missing_value"]) == "4600.00"


def test_the_sections_list_their_lines_and_the_unknown_codes(closed):
    assert [line.tag for line in report_lines(stocktake=closed, section="missing")] == [
        "A-4",
        "A-6",
    ]
    unexpected = report_lines(stocktake=closed, section="unexpected").get()
    assert (unexpected.tag, unexpected.found_location.name) == ("B-1", "101")
    codes = {row["raw_code"]: row for row in report_unknown_codes(stocktake=closed)}
    assert set(codes) == {"UNK-1", "=1+1"}
    assert (codes["UNK-1"]["times"], codes["UNK-1"]["note"]) == (2, "无标签显示器")


def test_the_report_costs_the_same_queries_for_ten_times_the_lines(
    site, manager, counter, django_assert_num_queries
):
    small = closed_stocktake(site, manager=manager, counter=counter)
    for n in range(60):
        AssetFactory(tag=f"X-{n:03d}", location=site["room1"])
    big = start(site, manager=manager, counter=counter)
    count_all(big, site, counter)
    big = services.stocktake_close(actor=manager, stocktake=big)
    assert big.expected_count == small.expected_count + 60

    with django_assert_num_queries(7):
        stocktake_report(stocktake=small)
    with django_assert_num_queries(7):
        report = stocktake_report(stocktake=big)
    assert report.section("missing").count == 62


# --- Page -------------------------------------------------------------------------------------


def test_the_report_page(closed, client_as, manager):
    response = client_as(user=manager).get(reverse("inventory:stocktake_report", args=[closed.pk]))

    assert response.status_code == 200
    assert response.templates[0].name == "inventory/stocktake_report.html"
    body = response.content.decode()
    for tag in ("A-2", "A-3", "A-4", "A-5", "A-6", "B-1", "UNK-1"):
        assert tag in body
    assert 'data-testid="apply-results"' in body
    assert response.context["report"].section("missing").count == 2


def test_a_section_page_for_htmx(closed, client_as, manager):
    url = reverse("inventory:stocktake_report", args=[closed.pk])
    response = client_as(user=manager).get(
        url, {"section": "missing", "page": "1"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode().lstrip()
    assert response.status_code == 200
    assert body.startswith('<section id="section-missing"')
    assert "A-4" in body and "A-2" not in body


def test_auditors_read_the_report_without_the_apply_button(closed, client_as):
    client = client_as("auditor")
    response = client.get(reverse("inventory:stocktake_report", args=[closed.pk]))
    assert response.status_code == 200
    assert 'data-testid="apply-results"' not in response.content.decode()


@pytest.mark.parametrize("role", ["employee", "dept_head"])
def test_other_roles_get_403(closed, client_as, role):
    client = client_as(role)
    for name in ("stocktake_report", "stocktake_report_xlsx", "stocktake_report_pdf"):
        assert client.get(reverse(f"inventory:{name}", args=[closed.pk])).status_code == 403


def test_a_stocktake_still_counting_has_no_report(site, manager, counter, client_as):
    counting = start(site, manager=manager, counter=counter)
    client = client_as(user=manager)
    for name in ("stocktake_report", "stocktake_report_xlsx", "stocktake_report_pdf"):
        assert client.get(reverse(f"inventory:{name}", args=[counting.pk])).status_code == 404


def test_the_report_page_costs_a_constant_number_of_queries(
    site, manager, counter, client_as, django_assert_max_num_queries
):
    small = closed_stocktake(site, manager=manager, counter=counter)
    for n in range(80):
        AssetFactory(tag=f"Y-{n:03d}", location=site["room2"])
    big = start(site, manager=manager, counter=counter)
    big = services.stocktake_close(actor=manager, stocktake=big)
    client = client_as(user=manager)
    for stocktake in (small, big):
        with django_assert_max_num_queries(24):
            response = client.get(reverse("inventory:stocktake_report", args=[stocktake.pk]))
        assert response.status_code == 200
    assert len(response.context["pages"][0].rows) == 50  # the first page of 85 missing


# --- Excel and PDF ---------------------------------------------------------------------------


def test_the_excel_export_lists_every_section_with_formulas_neutralised(closed, client_as, manager):
    response = client_as(user=manager).get(
        reverse("inventory:stocktake_report_xlsx", args=[closed.pk])
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    book = load_workbook(io.BytesIO(response.content))
    assert len(book.sheetnames) == 7  # summary, five line sections, unknown codes
    missing = book.worksheets[1]
    assert [row[0] for row in missing.iter_rows(min_row=2, values_only=True)] == ["A-4", "A-6"]
    unknown = book.worksheets[-1]
    codes = [row[0] for row in unknown.iter_rows(min_row=2, values_only=True)]
    assert codes == ["'=1+1", "UNK-1"]
    assert all(cell.data_type == "s" for row in unknown.iter_rows(min_row=2) for cell in row[:1])


def test_the_pdf_has_the_discrepancies_and_signature_lines(closed, client_as, manager, tmp_path):
    response = client_as(user=manager).get(
        reverse("inventory:stocktake_report_pdf", args=[closed.pk])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    path = tmp_path / "report.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert "2026 年度盘点" in text
    for tag in ("A-2", "A-3", "A-4", "A-5", "A-6", "B-1", "UNK-1"):
        assert tag in text
    assert "A-1 " not in text  # found as expected: counted, not listed
    assert "4,600.00" in text
    assert "盘点人" in text or "Counted by" in text


def test_a_consumable_stocktake_report_goes_to_its_count_sheets(client_as, make_user, db):
    keeper = make_user("keeper")
    from inventory.tests.factories import WarehouseFactory

    warehouse = WarehouseFactory(keepers=[keeper])
    stocktake = services.stocktake_create(
        actor=keeper,
        name="耗材",
        kind=Stocktake.Kind.CONSUMABLE,
        warehouses=[warehouse],
        counters=[keeper],
    )
    services.stocktake_start(actor=keeper, stocktake=stocktake)
    response = client_as(user=keeper).get(
        reverse("inventory:stocktake_report", args=[stocktake.pk])
    )
    assert response.status_code == 302
    assert response.url == reverse("inventory:stocktake_sheets", args=[stocktake.pk])
