"""The home page: per-role counts within the data scope, chart data, links into the list."""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from assets.selectors import DASHBOARD_CACHE_KEY
from assets.tests.factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    DepartmentFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.delete(DASHBOARD_CACHE_KEY)
    yield
    cache.delete(DASHBOARD_CACHE_KEY)


def chart_data(response) -> dict:
    match = re.search(
        r'<script id="dashboard-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "json_script element missing"
    return json.loads(match.group(1))


def test_home_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302


def test_home_clerk_sees_counts_by_status_category_and_warranty(client_as):
    # given
    computers = CategoryFactory(name="计算机设备")
    laptops = CategoryFactory(name="笔记本电脑", parent=computers)
    printers = CategoryFactory(name="打印机")
    laptop = AssetModelFactory(category=laptops)
    today = timezone.localdate()
    AssetFactory(model=laptop, assigned=True, warranty_end=today + timedelta(days=5))
    AssetFactory(model=laptop, assigned=True)
    AssetFactory(model=AssetModelFactory(category=computers))
    AssetFactory(model=AssetModelFactory(category=printers), in_repair=True)
    client = client_as("clerk")
    # when
    response = client.get("/")
    # then
    body = response.content.decode()
    dashboard = response.context["dashboard"]
    assert response.status_code == 200
    assert dashboard["total"] == 4
    assert {s["code"]: s["count"] for s in dashboard["statuses"] if s["count"]} == {
        "in_use": 2,
        "in_stock": 1,
        "in_repair": 1,
    }
    assert [(c["name"], c["count"]) for c in dashboard["categories"]] == [
        ("计算机设备", 3),
        ("打印机", 1),
    ]
    assert dashboard["warranty_soon"] == 1
    assert 'href="/assets/?status=in_use"' in body
    assert f'href="/assets/?category={computers.pk}"' in body
    assert 'href="/assets/?warranty_days=30"' in body
    assert chart_data(response)["category"] == {
        "labels": ["计算机设备", "打印机"],
        "counts": [3, 1],
    }
    assert sum(chart_data(response)["status"]["counts"]) == 4
    assert "chart.js-4.6.1/chart.umd.min.js" in body


def test_home_employee_counts_only_own_assets(client_as, make_user):
    user = make_user("employee")
    me = PersonFactory(user=user)
    AssetFactory(holder=me, assigned=True)
    AssetFactory(holder=PersonFactory(), assigned=True)
    AssetFactory()
    response = client_as(user=user).get("/")
    assert response.context["dashboard"]["total"] == 1


def test_home_department_head_counts_department_subtree(client_as, make_user):
    rd = DepartmentFactory()
    qa = DepartmentFactory(parent=rd)
    user = make_user("dept_head")
    rd.head = PersonFactory(user=user, department=rd)
    rd.save(update_fields=["head"])
    AssetFactory(department=rd)
    AssetFactory(department=qa)
    AssetFactory(department=DepartmentFactory())
    response = client_as(user=user).get("/")
    assert response.context["dashboard"]["total"] == 2


def test_home_without_role_shows_welcome_only(client_as):
    AssetFactory()
    response = client_as(None).get("/")
    assert response.status_code == 200
    assert response.context["dashboard"] is None
    assert 'data-testid="dashboard"' not in response.content.decode()


def test_home_all_scope_counts_are_cached(client_as, django_assert_max_num_queries):
    # given: a first visit fills the cache
    client = client_as("clerk")
    AssetFactory()
    assert client.get("/").context["dashboard"]["total"] == 1
    AssetFactory()
    # when: within 60 s nothing is recounted (only the site's share of queries remains)
    with django_assert_max_num_queries(5):
        cached = client.get("/")
    cache.delete(DASHBOARD_CACHE_KEY)
    fresh = client.get("/")
    # then
    assert cached.context["dashboard"]["total"] == 1
    assert fresh.context["dashboard"]["total"] == 2


def test_home_query_count_is_bounded(client_as, django_assert_max_num_queries):
    client = client_as("clerk")
    for _ in range(20):
        AssetFactory(model=AssetModelFactory(category=CategoryFactory()))
    # the site's share (session, user, groups, nav person, unread notifications), then the
    # three GROUP BY / range counts and the category tree for the roll-up
    with django_assert_max_num_queries(9):
        response = client.get("/")
    assert response.context["dashboard"]["total"] == 20
