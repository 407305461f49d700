"""The depreciation figures on the asset page and the monthly report (/reports/depreciation/),
on screen and as Excel."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from assets.models import Asset, DepreciationMethod
from assets.selectors_reports import depreciation_report, report_trees

from .factories import AssetFactory, AssetModelFactory, CategoryFactory, DepartmentFactory

D = Decimal
URL = "/reports/depreciation/"


@pytest.fixture
def books(db):
    """Two departments (研发中心 with a child 测试部), two categories, four assets.

    For June 2025:
    - A1 straight-line 12,000.00, 5 %, 60 months, bought 2024-03-15: 15th month,
      190.00 this month, 2,850.00 accumulated, 9,150.00 book value (研发中心)
    - A2 double-declining 12,000.00, 5 %, 60 months, bought 2024-03-01: year 2 month 3
      (240.00), 4,800.00 + 3 × 240.00 = 5,520.00, book value 6,480.00 (测试部)
    - A3 laptop straight-line 8,999.00, 0 %, 36 months, bought 2025-05-31: first month
      249.97 (行政部)
    - A4 the same laptop bought 2025-06-10: not depreciated yet: 0, 0, 8,999.00 (行政部)
    """
    rd = DepartmentFactory(name="研发中心", code="RD")
    qa = DepartmentFactory(name="测试部", code="QA", parent=rd)
    admin_dept = DepartmentFactory(name="行政部", code="AD")
    servers = CategoryFactory(
        name="服务器",
        useful_life_months=60,
        residual_rate=D("5.00"),
        depreciation_method=DepreciationMethod.STRAIGHT_LINE,
    )
    ddb = CategoryFactory(
        name="网络设备",
        useful_life_months=60,
        residual_rate=D("5.00"),
        depreciation_method=DepreciationMethod.DOUBLE_DECLINING,
    )
    laptops = CategoryFactory(
        name="笔记本电脑",
        useful_life_months=48,
        residual_rate=D("5.00"),
        depreciation_method=DepreciationMethod.STRAIGHT_LINE,
    )

    def make(tag, category, department, cost, bought, **extra):
        return AssetFactory(
            tag=tag,
            model=AssetModelFactory(category=category),
            department=department,
            cost=D(cost),
            purchase_date=bought,
            **extra,
        )

    return {
        "rd": rd,
        "qa": qa,
        "admin": admin_dept,
        "laptops": laptops,
        "A1": make("A1", servers, rd, "12000.00", date(2024, 3, 15)),
        "A2": make("A2", ddb, qa, "12000.00", date(2024, 3, 1)),
        # per-asset overrides of the category defaults: 36 months, no residual
        "A3": make(
            "A3",
            laptops,
            admin_dept,
            "8999.00",
            date(2025, 5, 31),
            useful_life_months=36,
            residual_rate=D("0"),
        ),
        "A4": make(
            "A4",
            laptops,
            admin_dept,
            "8999.00",
            date(2025, 6, 10),
            useful_life_months=36,
            residual_rate=D("0"),
        ),
    }


@pytest.fixture
def june_2025(monkeypatch):
    """Today is 2025-06-20 (local time)."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: date(2025, 6, 20))


def _figures(rows):
    return {r.tag: (r.cost, r.this_month, r.accumulated, r.net_book_value) for r in rows}


# --- The asset page -------------------------------------------------------------------------------


def test_the_asset_page_shows_accumulated_depreciation_and_book_value_today(
    client_as, books, june_2025
):

    response = client_as("clerk").get(reverse("assets:detail", args=["A1"]))

    assert response.status_code == 200
    assert response.context["depreciation"]["position"] == (D("2850.00"), D("9150.00"), D("190.00"))
    html = response.content.decode()
    assert 'data-testid="accumulated-depreciation">2850.00<' in html
    assert 'data-testid="net-book-value">9150.00<' in html


def test_the_asset_page_uses_the_assets_own_life_and_rate(client_as, books, june_2025):

    response = client_as("clerk").get(reverse("assets:detail", args=["A3"]))

    assert response.context["depreciation"]["life_months"] == 36
    assert response.context["depreciation"]["position"] == (D("249.97"), D("8749.03"), D("249.97"))


@pytest.mark.parametrize("missing", ["cost", "purchase_date"])
def test_an_asset_without_cost_or_purchase_date_shows_a_dash(client_as, db, missing):
    asset = AssetFactory(**{"cost": D("100.00"), "purchase_date": date(2024, 1, 1), missing: None})

    response = client_as("clerk").get(reverse("assets:detail", args=[asset.tag]))

    assert response.context["depreciation"]["position"] is None
    assert 'data-testid="net-book-value">—<' in response.content.decode()


# --- The report -----------------------------------------------------------------------------------


def test_the_report_lists_each_asset_with_exact_figures(clerk, books):
    report = depreciation_report(
        user=clerk, month=date(2025, 6, 1), filters={}, trees=report_trees()
    )

    assert _figures(report.rows) == {
        "A1": (D("12000.00"), D("190.00"), D("2850.00"), D("9150.00")),
        "A2": (D("12000.00"), D("240.00"), D("5520.00"), D("6480.00")),
        "A3": (D("8999.00"), D("249.97"), D("249.97"), D("8749.03")),
        "A4": (D("8999.00"), D("0.00"), D("0.00"), D("8999.00")),
    }
    # department tree order: 研发中心, 研发中心/测试部, 行政部
    assert [r.tag for r in report.rows] == ["A1", "A2", "A3", "A4"]
    assert [(d.name, d.totals.count) for d in report.departments] == [
        ("研发中心", 1),
        ("研发中心/测试部", 1),
        ("行政部", 2),
    ]


def test_the_totals_equal_the_sum_of_the_rows_and_of_the_subtotals(clerk, books):
    for i in range(7):  # more rows than one page of 5
        AssetFactory(cost=D("1000.00") + i, purchase_date=date(2023, i + 1, 28))
    trees = report_trees()

    pages = [
        depreciation_report(
            user=clerk, month=date(2025, 6, 1), filters={}, trees=trees, page=n, per_page=5
        )
        for n in (1, 2, 3)
    ]
    rows = [r for p in pages for r in p.rows]
    total = pages[0].total

    assert [len(p.rows) for p in pages] == [5, 5, 1]
    assert len({r.id for r in rows}) == total.count == 11
    for attr in ("cost", "this_month", "accumulated", "net_book_value"):
        assert sum(getattr(r, attr) for r in rows) == getattr(total, attr)
        assert sum(getattr(d.totals, attr) for d in pages[0].departments) == getattr(total, attr)
    assert total.net_book_value == total.cost - total.accumulated


def test_the_department_filter_includes_sub_departments(clerk, books):
    trees = report_trees()

    report = depreciation_report(
        user=clerk, month=date(2025, 6, 1), filters={"department": books["rd"].pk}, trees=trees
    )

    assert [r.tag for r in report.rows] == ["A1", "A2"]
    assert report.total.this_month == D("430.00")


def test_the_category_filter(clerk, books):
    report = depreciation_report(
        user=clerk,
        month=date(2025, 6, 1),
        filters={"category": books["laptops"].pk},
        trees=report_trees(),
    )

    assert [r.tag for r in report.rows] == ["A3", "A4"]


def test_assets_disposed_before_the_month_are_left_out_and_the_disposal_month_is_in(clerk, books):
    Asset.objects.filter(tag="A1").update(disposed_on=date(2025, 5, 20))
    Asset.objects.filter(tag="A2").update(disposed_on=date(2025, 6, 3))
    Asset.objects.filter(tag="A3").update(purchase_date=None)
    Asset.objects.filter(tag="A4").update(cost=None)

    report = depreciation_report(
        user=clerk, month=date(2025, 6, 1), filters={}, trees=report_trees()
    )

    assert _figures(report.rows) == {
        "A2": (D("12000.00"), D("240.00"), D("5520.00"), D("6480.00")),
    }


def test_a_month_before_purchase_leaves_the_asset_out(clerk, books):
    report = depreciation_report(
        user=clerk, month=date(2025, 5, 1), filters={}, trees=report_trees()
    )

    assert [r.tag for r in report.rows] == ["A1", "A2", "A3"]  # A4 bought in June


@pytest.mark.parametrize("role", ["clerk", "admin", "auditor"])
def test_the_report_page_opens_for_clerks_admins_and_auditors(client_as, books, role):
    response = client_as(role).get(URL, {"month": "2025-06"})

    assert response.status_code == 200
    assert response.context["report"].total.count == 4
    html = response.content.decode()
    assert 'data-testid="depreciation-report"' in html
    assert "<html" in html


@pytest.mark.parametrize("role", ["employee", "dept_head", "keeper", None])
def test_other_roles_get_403(client_as, books, role):
    assert client_as(role).get(URL).status_code == 403


def test_anonymous_is_sent_to_the_login(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_htmx_gets_only_the_report_fragment(client_as, books):
    response = client_as("clerk").get(
        URL, {"month": "2025-06", "department": books["admin"].pk}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="report"')
    assert "<html" not in html
    assert ">A3</a>" in html
    assert ">A4</a>" in html
    assert ">A1</a>" not in html


def test_an_invalid_month_shows_an_error_and_the_current_month(client_as, books, june_2025):

    response = client_as("clerk").get(URL, {"month": "2025-13"})

    assert response.status_code == 200
    assert response.context["month"] == date(2025, 6, 1)
    assert response.context["form"].errors["month"]


def test_the_report_page_is_paginated(client_as, books):
    for _ in range(55):
        AssetFactory(cost=D("100.00"), purchase_date=date(2024, 1, 1))
    client = client_as("clerk")

    first = client.get(URL, {"month": "2025-06"})
    second = client.get(URL, {"month": "2025-06", "page": "2"})

    assert len(first.context["report"].rows) == 50
    assert first.context["next_url"] == f"{URL}?month=2025-06&page=2"
    assert len(second.context["report"].rows) == 9
    assert second.context["next_url"] is None


def test_the_report_queries_do_not_grow_with_rows(client_as, books, django_assert_max_num_queries):
    client = client_as("clerk")
    client.get(URL, {"month": "2025-06"})  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        client.get(URL, {"month": "2025-06"})
    for _ in range(40):
        AssetFactory(cost=D("100.00"), purchase_date=date(2024, 1, 1), department=books["qa"])

    with django_assert_max_num_queries(len(few)):
        response = client.get(URL, {"month": "2025-06"})

    assert response.context["report"].total.count == 44
    # session, user, permissions (2), roles, trees, the narrow pass, the page, base template
    assert len(few) <= 10


# --- Excel ----------------------------------------------------------------------------------------


def test_the_excel_export_reads_back_with_every_row_and_the_totals(client_as, books):
    response = client_as("auditor").get(URL, {"month": "2025-06", "export": "xlsx"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "depreciation-2025-06" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [tuple(c for c in r) for r in sheet.iter_rows(values_only=True)]
    header, body = rows[0], rows[1:]
    assets = [r for r in body if r[0] in {"A1", "A2", "A3", "A4"}]

    def money(value):
        return D(str(value)).quantize(D("0.01"))

    assert len(header) == 8
    assert [(r[0], money(r[5]), money(r[6]), money(r[7])) for r in assets] == [
        ("A1", D("190.00"), D("2850.00"), D("9150.00")),
        ("A2", D("240.00"), D("5520.00"), D("6480.00")),
        ("A3", D("249.97"), D("249.97"), D("8749.03")),
        ("A4", D("0.00"), D("0.00"), D("8999.00")),
    ]
    total = body[-1]
    subtotals = body[len(assets) + 1 : -1]
    assert [r[3] for r in subtotals] == ["研发中心", "研发中心/测试部", "行政部"]
    for col in (4, 5, 6, 7):
        assert money(total[col]) == sum(money(r[col]) for r in assets)
        assert money(total[col]) == sum(money(r[col]) for r in subtotals)
    assert money(total[5]) == D("679.97")


def test_the_excel_export_follows_the_filters(client_as, books):
    response = client_as("clerk").get(
        URL, {"month": "2025-06", "category": books["laptops"].pk, "export": "xlsx"}
    )

    sheet = load_workbook(io.BytesIO(response.content)).active
    tags = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert tags[:2] == ["A3", "A4"]
    assert "A1" not in tags


def test_the_excel_export_is_forbidden_to_employees(client_as, books):
    assert client_as("employee").get(URL, {"export": "xlsx"}).status_code == 403
