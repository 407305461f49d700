"""The asset list: full page, htmx fragment, data scope, filters, search, sort, pagination,
capped count, column chooser, query bounds and the id query's plan on MariaDB."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assets import selectors
from assets.models import UserPreference
from assets.views.list import COLUMNS, COLUMNS_PREF_KEY, DEFAULT_COLUMNS

from .factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

URL = "/assets/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def tags_of(response) -> list[str]:
    return [a.tag for a in response.context["page"].rows]


# --- Page, fragment, roles ------------------------------------------------------------------


def test_list_full_page_shows_assets_filters_and_bulk_form(client_as):
    # given
    client = client_as("clerk")
    a1 = AssetFactory(name="ThinkPad X1", assigned=True)
    a2 = AssetFactory(name="Dell U2723")
    # when
    response = client.get(URL)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    assert 'id="asset-filter"' in body
    assert 'id="asset-table"' in body
    assert tags_of(response) == [a2.tag, a1.tag]  # newest first
    assert reverse("assets:detail", args=[a1.tag]) in body
    assert "ThinkPad X1" in body and "Dell U2723" in body
    assert 'class="badge text-bg-success"' in body  # STATUS_BADGE of in_use
    assert f'action="{reverse("assets:labels")}"' in body
    assert 'target="_blank"' in body
    assert f'name="tags" value="{a1.tag}" form="asset-bulk"' in body
    for fmt in ("50x30", "70x40", "a4-3x8"):
        assert f'value="{fmt}"' in body
    assert "data-select-all" in body
    assert 'class="table-responsive"' in body


def test_list_htmx_request_gets_only_the_table_fragment(client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    # when
    response = client.get(URL, {"q": "", "status": "in_stock", "sort": ""}, **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'id="asset-filter"' not in body
    assert body.lstrip().startswith('<div id="asset-table"')
    assert asset.tag in body
    assert response["HX-Push-Url"] == "/assets/?status=in_stock"  # empty fields dropped
    assert "HX-Request" in response["Vary"]


def test_list_boosted_htmx_request_gets_the_full_page(client_as):
    client = client_as("clerk")
    response = client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")
    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_list_needs_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_list_user_without_role_is_forbidden(client_as):
    AssetFactory()
    response = client_as(None).get(URL)
    assert response.status_code == 403


def test_list_employee_sees_only_own_assets(client_as, make_user):
    # given
    user = make_user("employee")
    me = PersonFactory(user=user)
    mine = AssetFactory(holder=me, assigned=True)
    AssetFactory(holder=PersonFactory(), assigned=True)
    AssetFactory()
    # when
    response = client_as(user=user).get(URL)
    # then
    assert response.status_code == 200
    assert tags_of(response) == [mine.tag]
    assert response.context["page"].count == 1


def test_list_department_head_sees_department_subtree_only(client_as, make_user):
    # given
    rd = DepartmentFactory(name="研发中心")
    qa = DepartmentFactory(name="测试部", parent=rd)
    sales = DepartmentFactory(name="销售部")
    user = make_user("dept_head")
    head = PersonFactory(user=user, department=rd)
    rd.head = head
    rd.save(update_fields=["head"])
    in_rd = AssetFactory(department=rd)
    in_qa = AssetFactory(department=qa)
    AssetFactory(department=sales)
    AssetFactory()
    # when
    response = client_as(user=user).get(URL)
    # then
    assert response.status_code == 200
    assert set(tags_of(response)) == {in_rd.tag, in_qa.tag}


def test_list_department_head_cannot_widen_scope_with_filters(client_as, make_user):
    # given
    rd = DepartmentFactory()
    sales = DepartmentFactory()
    user = make_user("dept_head")
    rd.head = PersonFactory(user=user, department=rd)
    rd.save(update_fields=["head"])
    AssetFactory(department=sales)
    # when
    response = client_as(user=user).get(URL, {"department": sales.pk})
    # then
    assert tags_of(response) == []


# --- Filters --------------------------------------------------------------------------------


def test_filter_status_accepts_several(client_as):
    client = client_as("clerk")
    used = AssetFactory(assigned=True)
    repair = AssetFactory(in_repair=True)
    AssetFactory()
    response = client.get(URL, {"status": ["in_use", "in_repair"]})
    assert set(tags_of(response)) == {used.tag, repair.tag}


def test_filter_category_includes_children(client_as):
    # given
    client = client_as("clerk")
    computers = CategoryFactory(name="计算机设备")
    laptops = CategoryFactory(name="笔记本电脑", parent=computers)
    printers = CategoryFactory(name="打印机")
    parent_asset = AssetFactory(model=AssetModelFactory(category=computers))
    child_asset = AssetFactory(model=AssetModelFactory(category=laptops))
    AssetFactory(model=AssetModelFactory(category=printers))
    # when
    by_parent = client.get(URL, {"category": computers.pk})
    by_child = client.get(URL, {"category": laptops.pk})
    # then
    assert set(tags_of(by_parent)) == {parent_asset.tag, child_asset.tag}
    assert tags_of(by_child) == [child_asset.tag]
    assert "笔记本电脑" in by_parent.content.decode()  # the tree is offered as choices


def test_filter_department_includes_children(client_as):
    client = client_as("clerk")
    rd = DepartmentFactory()
    qa = DepartmentFactory(parent=rd)
    a_rd = AssetFactory(department=rd)
    a_qa = AssetFactory(department=qa)
    AssetFactory(department=DepartmentFactory())
    response = client.get(URL, {"department": rd.pk})
    assert set(tags_of(response)) == {a_rd.tag, a_qa.tag}


def test_filter_location_includes_children(client_as):
    client = client_as("clerk")
    campus = LocationFactory(name="北京园区")
    room = LocationFactory(name="101", parent=LocationFactory(name="A座", parent=campus))
    in_room = AssetFactory(location=room)
    AssetFactory(location=LocationFactory())
    response = client.get(URL, {"location": campus.pk})
    assert tags_of(response) == [in_room.tag]


def test_filter_holder_by_employee_number(client_as):
    client = client_as("clerk")
    zhang = PersonFactory(employee_no="E10001", name="张三")
    his = AssetFactory(holder=zhang)
    AssetFactory(holder=PersonFactory())
    response = client.get(URL, {"holder": "E10001"})
    assert tags_of(response) == [his.tag]


def test_filter_purchase_date_range(client_as):
    client = client_as("clerk")
    AssetFactory(purchase_date=date(2023, 12, 31))
    inside = AssetFactory(purchase_date=date(2024, 6, 1))
    AssetFactory(purchase_date=date(2025, 1, 1))
    AssetFactory(purchase_date=None)
    response = client.get(URL, {"purchase_from": "2024-01-01", "purchase_to": "2024-12-31"})
    assert tags_of(response) == [inside.tag]


def test_filter_warranty_ending_within_days(client_as):
    client = client_as("clerk")
    today = timezone.localdate()
    soon = AssetFactory(warranty_end=today + timedelta(days=10))
    AssetFactory(warranty_end=today + timedelta(days=40))
    AssetFactory(warranty_end=today - timedelta(days=1))  # already over
    AssetFactory(warranty_end=None)
    response = client.get(URL, {"warranty_days": "30"})
    assert tags_of(response) == [soon.tag]


def test_invalid_filter_is_reported_and_ignored(client_as):
    # given
    client = client_as("clerk")
    used = AssetFactory(assigned=True)
    AssetFactory()
    # when
    response = client.get(URL, {"purchase_from": "not-a-date", "status": "in_use"})
    # then
    assert response.status_code == 200
    assert tags_of(response) == [used.tag]
    assert "alert-warning" in response.content.decode()


# --- Search ---------------------------------------------------------------------------------


def test_search_exact_tag_returns_only_that_asset(client_as):
    # given: "T-1" is also a prefix of "T-10"
    client = client_as("clerk")
    exact = AssetFactory(tag="T-1")
    AssetFactory(tag="T-10")
    # when
    response = client.get(URL, {"q": "T-1"})
    # then
    assert tags_of(response) == [exact.tag]


def test_search_exact_serial_number(client_as):
    client = client_as("clerk")
    asset = AssetFactory(serial_number="SN123")
    AssetFactory(serial_number="SN1234")
    response = client.get(URL, {"q": "sn123"})  # case-insensitive collation
    assert tags_of(response) == [asset.tag]


def test_search_tag_and_serial_by_prefix(client_as):
    client = client_as("clerk")
    t1 = AssetFactory(tag="IT-2026-000101")
    t2 = AssetFactory(tag="IT-2026-000102")
    s1 = AssetFactory(serial_number="PF3ABC99")
    AssetFactory(tag="IT-2025-000101", serial_number="XPF3")
    assert set(tags_of(client.get(URL, {"q": "IT-2026-0001"}))) == {t1.tag, t2.tag}
    assert tags_of(client.get(URL, {"q": "PF3A"})) == [s1.tag]


def test_search_name_and_holder_name_by_substring(client_as):
    client = client_as("clerk")
    thinkpad = AssetFactory(name="联想 ThinkPad X1 Carbon")
    li_si = AssetFactory(holder=PersonFactory(name="李四光"))
    AssetFactory(name="Dell U2723")
    assert tags_of(client.get(URL, {"q": "thinkpad x1"})) == [thinkpad.tag]
    assert tags_of(client.get(URL, {"q": "四光"})) == [li_si.tag]


def test_search_never_leaves_the_data_scope(client_as, make_user):
    user = make_user("employee")
    PersonFactory(user=user)
    other = AssetFactory(holder=PersonFactory())
    response = client_as(user=user).get(URL, {"q": other.tag})
    assert tags_of(response) == []


# --- Sort and pagination --------------------------------------------------------------------


def test_sort_by_whitelisted_column_with_id_tie_break(client_as):
    # given
    client = client_as("clerk")
    b1 = AssetFactory(name="B")
    a = AssetFactory(name="A")
    b2 = AssetFactory(name="B")
    # when
    asc = client.get(URL, {"sort": "name"})
    desc = client.get(URL, {"sort": "-name"})
    # then
    assert tags_of(asc) == [a.tag, b1.tag, b2.tag]
    assert tags_of(desc) == [b2.tag, b1.tag, a.tag]
    body = asc.content.decode()
    assert 'aria-sort="ascending"' in body
    assert 'href="/assets/?sort=-name"' in body  # clicking again reverses


def test_sort_by_cost(client_as):
    client = client_as("clerk")
    cheap = AssetFactory(cost=Decimal("10.00"))
    dear = AssetFactory(cost=Decimal("9999.00"))
    assert tags_of(client.get(URL, {"sort": "-cost"})) == [dear.tag, cheap.tag]


def test_unknown_sort_falls_back_to_newest_first(client_as):
    client = client_as("clerk")
    first = AssetFactory()
    second = AssetFactory()
    response = client.get(URL, {"sort": "custom_fields"})
    assert tags_of(response) == [second.tag, first.tag]
    assert response.context["sort_key"] == ""


def test_deep_page_links_keep_filters_and_real_hrefs(client_as):
    # given: 23 assets in use, 10 per page
    client = client_as("clerk")
    assets = [AssetFactory(assigned=True) for _ in range(23)]
    AssetFactory()
    newest_first = [a.tag for a in reversed(assets)]
    # when
    response = client.get(URL, {"status": "in_use", "per_page": "10", "page": "3"})
    # then
    page = response.context["page"]
    assert tags_of(response) == newest_first[20:]
    assert (page.count, page.capped, page.has_next, page.num_pages) == (23, False, False, 3)
    body = response.content.decode()
    assert 'href="/assets/?status=in_use&amp;per_page=10&amp;page=2"' in body
    assert 'href="/assets/?status=in_use&amp;per_page=10"' in body  # page 1 has no page=
    assert "21–23" in body and "23" in body


def test_page_past_the_end_is_empty_but_counted(client_as):
    client = client_as("clerk")
    for _ in range(3):
        AssetFactory()
    response = client.get(URL, {"per_page": "10", "page": "5"})
    page = response.context["page"]
    assert (page.rows, page.count, page.has_next) == ([], 3, False)


def test_per_page_choice_is_limited(client_as):
    client = client_as("clerk")
    assert client.get(URL, {"per_page": "50"}).context["per_page"] == 50
    assert client.get(URL, {"per_page": "5000"}).context["per_page"] == 25


def test_count_is_capped_and_next_exists_while_rows_remain(client_as, monkeypatch):
    # given: a cap of 3 stands in for 10,000
    monkeypatch.setattr(selectors, "LIST_COUNT_CAP", 3)
    client = client_as("clerk")
    for _ in range(5):
        AssetFactory()
    # when
    first = client.get(URL, {"per_page": "10"})
    # then
    page = first.context["page"]
    assert (page.count, page.capped, page.count_label) == (3, True, "3+")
    assert "3+" in first.content.decode()
    assert page.num_pages is None
    assert page.has_next is False  # 5 rows fit on one page of 10


def test_capped_count_label_reads_10000_plus():
    page = selectors.AssetPage(
        rows=[], number=1, per_page=25, count=10_000, capped=True, has_next=True
    )
    assert page.count_label == "10,000+"
    assert page.window() == [1, 2, 3]
    exact = selectors.AssetPage(
        rows=[], number=1, per_page=25, count=1234, capped=False, has_next=True
    )
    assert exact.count_label == "1,234"


def test_capped_list_offers_next_page_when_page_is_full(client_as, monkeypatch):
    monkeypatch.setattr(selectors, "LIST_COUNT_CAP", 3)
    client = client_as("clerk")
    for _ in range(12):
        AssetFactory()
    response = client.get(URL, {"per_page": "10"})
    page = response.context["page"]
    assert (page.capped, page.has_next) == (True, True)
    assert 'href="/assets/?per_page=10&amp;page=2"' in response.content.decode()


# --- Column chooser -------------------------------------------------------------------------


def test_column_chooser_is_remembered_per_user(client_as, clerk, make_user):
    # given
    client = client_as(user=clerk)
    AssetFactory(cost=Decimal("1234.50"))
    # when
    response = client.post(
        reverse("assets:columns"),
        {"columns": ["status", "cost", "bogus"], "next": "/assets/?sort=name"},
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == "/assets/?sort=name"
    pref = UserPreference.objects.get(user=clerk, key=COLUMNS_PREF_KEY)
    assert pref.value == ["tag", "name", "status", "cost"]
    listing = client.get(URL)
    assert listing.context["columns"] == ["tag", "name", "status", "cost"]
    assert "1234.50" in listing.content.decode()
    other = Client()
    other.force_login(make_user("clerk"))
    assert other.get(URL).context["columns"] == DEFAULT_COLUMNS


def test_column_chooser_htmx_returns_the_table_with_current_filters(client_as):
    # given
    client = client_as("clerk")
    used = AssetFactory(assigned=True)
    other = AssetFactory()
    # when
    response = client.post(
        reverse("assets:columns"), {"columns": ["location"], "status": "in_use"}, **HTMX
    )
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert UserPreference.objects.get(key=COLUMNS_PREF_KEY).value == ["tag", "name", "location"]
    assert 'href="/assets/?status=in_use&amp;sort=location"' in body  # the column's header
    assert "sort=status" not in body
    assert used.tag in body and other.tag not in body


def test_column_chooser_rejects_foreign_next_and_needs_csrf(clerk):
    # given
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    # when
    response = client.post(reverse("assets:columns"), {"columns": ["status"]})
    # then: nothing saved
    assert response.status_code == 403
    assert not UserPreference.objects.filter(user=clerk).exists()


def test_column_chooser_ignores_an_offsite_next(client_as):
    client = client_as("clerk")
    response = client.post(
        reverse("assets:columns"), {"columns": ["status"], "next": "https://evil.example/"}
    )
    assert response["Location"] == URL


def test_column_chooser_forbidden_without_role(client_as):
    client = client_as(None)
    response = client.post(reverse("assets:columns"), {"columns": ["status"]})
    assert response.status_code == 403
    assert not UserPreference.objects.exists()


# --- Query bounds and plan ------------------------------------------------------------------


def _rich_assets(n: int) -> None:
    dept = DepartmentFactory()
    loc = LocationFactory()
    model = AssetModelFactory()
    for i in range(n):
        AssetFactory(
            model=model,
            department=dept,
            location=loc,
            holder=PersonFactory(department=dept),
            purchase_date=date(2024, 1, 1),
            serial_number=f"SN{i:05d}",
        )


@pytest.mark.parametrize("per_page", [10, 100])
def test_list_page_query_count_is_bounded(client_as, django_assert_max_num_queries, per_page):
    # given: more rows than fit on the page, every relation set, all columns shown
    client = client_as("clerk")
    _rich_assets(per_page + 5)
    client.post(reverse("assets:columns"), {"columns": [c.key for c in COLUMNS]})
    # when / then: (the session, unless cached), the user with roles and person, columns,
    # the page with its count, the trees
    with django_assert_max_num_queries(5):
        response = client.get(URL, {"per_page": per_page})
    assert len(response.context["page"].rows) == per_page


def test_filtered_search_page_query_count_is_bounded(client_as, django_assert_max_num_queries):
    # given: a search that is not an exact tag or serial number costs the probe query more
    client = client_as("clerk")
    _rich_assets(30)
    dept_id = DepartmentFactory._meta.model.objects.first().pk
    with django_assert_max_num_queries(6):
        response = client.get(
            URL, {"q": "型号", "department": dept_id, "status": "in_stock", "per_page": 25}
        )
    assert len(response.context["page"].rows) == 25


def test_exact_search_is_answered_from_the_probe(client_as, django_assert_max_num_queries):
    # given
    client = client_as("clerk")
    _rich_assets(30)
    wanted = AssetFactory(serial_number="EXACT-1")
    # when: (the session, unless cached), the user with roles and person, then trees, columns
    # and the probe that reads the rows
    with django_assert_max_num_queries(5):
        response = client.get(URL, {"q": "EXACT-1"})
    # then
    assert tags_of(response) == [wanted.tag]
    assert response.context["page"].count == 1


def test_htmx_table_without_tree_filter_skips_the_trees(client_as, django_assert_max_num_queries):
    client = client_as("clerk")
    _rich_assets(30)
    with django_assert_max_num_queries(4):
        response = client.get(URL, {"status": "in_stock", "sort": "-cost"}, **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.content.decode()


def _explain_ids_query(user, filters: dict, page: int = 1) -> list[dict]:
    """EXPLAIN of the id query (with its capped-count subquery) one list page really runs."""
    with CaptureQueriesContext(connection) as ctx:
        selectors.asset_list_page(user=user, filters=filters, page=page, per_page=25)
    [sql] = [q["sql"] for q in ctx.captured_queries if "capped_total" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "mysql", reason="EXPLAIN format is MariaDB's")
def test_default_sort_id_query_uses_an_index_without_filesort(clerk):
    # given
    for _ in range(30):
        AssetFactory()
    # when
    plan = _explain_ids_query(clerk, {}, page=2)
    # then: the page's ids are read in index order (no filesort of the asset table; only the
    # page's own few ids may be sorted again for the row fetch)
    on_table = [row for row in plan if row["table"] == "assets_asset"]
    assert on_table
    assert all(row["key"] for row in on_table)
    assert all("filesort" not in (row["Extra"] or "").lower() for row in on_table)
