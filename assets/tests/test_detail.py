"""The asset detail page: fields, custom fields, QR code, history timeline, data scope."""

import pytest
import segno
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from assets.models import Asset, CustomField
from assets.qr import asset_url, qr_code, qr_svg
from assets.services import asset_create, asset_update

from .factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    CustomFieldFactory,
    DepartmentFactory,
    PersonFactory,
    SupplierFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def verbose(name: str) -> str:
    with translation.override("zh-hans"):
        return str(Asset._meta.get_field(name).verbose_name)


@pytest.fixture
def server_model():
    category = CategoryFactory(name="服务器")
    CustomFieldFactory(
        category=category, key="cpu_cores", label="CPU核数", field_type=CustomField.Type.INTEGER
    )
    CustomFieldFactory(
        category=category, key="rack", label="机柜", field_type=CustomField.Type.BOOLEAN
    )
    return AssetModelFactory(category=category, name="PowerEdge R760")


def test_detail_full_page_shows_fields_custom_fields_qr_and_history(client_as, server_model):
    # given
    client = client_as("clerk")
    dept = DepartmentFactory(name="研发中心")
    asset = asset_create(
        actor=client.user,
        model=server_model,
        data={"serial_number": "SRV-001", "department": dept, "notes": "机房A"},
        custom_values={"cpu_cores": 64, "rack": True},
    )
    # when
    response = client.get(reverse("assets:detail", args=[asset.tag]))
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    assert asset.tag in body
    assert "PowerEdge R760" in body
    assert "SRV-001" in body
    assert "研发中心" in body
    assert "机房A" in body
    assert response.context["custom_values"] == [("CPU核数", 64), ("机柜", "是")]
    assert "CPU核数" in body
    assert 'class="asset-qr"' in body
    assert asset_url(asset.tag) in body
    assert reverse("assets:edit", args=[asset.tag]) in body
    assert 'id="attachment-form"' in body
    assert [e.kind for e in response.context["history"]] == ["+"]


def test_detail_htmx_request_gets_the_fragment_only(client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    # when
    response = client.get(reverse("assets:detail", args=[asset.tag]), **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="asset-detail">')
    assert "<html" not in body
    assert asset.tag in body


def test_detail_boosted_htmx_request_gets_the_full_page(client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    response = client.get(
        reverse("assets:detail", args=[asset.tag]), HTTP_HX_BOOSTED="true", **HTMX
    )
    assert "<html" in response.content.decode()


def test_employee_sees_own_asset_but_not_anothers(client_as):
    # given
    client = client_as("employee")
    me = PersonFactory(user=client.user)
    mine = AssetFactory(holder=me)
    theirs = AssetFactory(holder=PersonFactory(department=me.department))
    # when
    own = client.get(reverse("assets:detail", args=[mine.tag]))
    other = client.get(reverse("assets:detail", args=[theirs.tag]))
    # then
    assert own.status_code == 200
    assert other.status_code == 404
    # an employee cannot edit or upload: no buttons for it
    assert reverse("assets:edit", args=[mine.tag]) not in own.content.decode()
    assert 'id="attachment-form"' not in own.content.decode()


def test_department_head_sees_sub_departments_but_not_another_department(client_as):
    # given
    client = client_as("dept_head")
    head = PersonFactory(user=client.user)
    rd = DepartmentFactory(name="研发中心", head=head)
    qa = DepartmentFactory(name="测试部", parent=rd)
    sales = DepartmentFactory(name="销售部")
    in_sub = AssetFactory(department=qa)
    elsewhere = AssetFactory(department=sales)
    # when / then
    assert client.get(reverse("assets:detail", args=[in_sub.tag])).status_code == 200
    assert client.get(reverse("assets:detail", args=[elsewhere.tag])).status_code == 404


def test_auditor_can_view_without_edit_controls(client_as):
    # given
    client = client_as("auditor")
    asset = AssetFactory()
    # when
    response = client.get(reverse("assets:detail", args=[asset.tag]))
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("assets:edit", args=[asset.tag]) not in body
    assert 'id="attachment-form"' not in body


@pytest.mark.parametrize("role", [None, "keeper"])
def test_users_without_asset_scope_get_404(client_as, role):
    asset = AssetFactory()
    response = client_as(role).get(reverse("assets:detail", args=[asset.tag]))
    assert response.status_code == 404


def test_anonymous_is_sent_to_login(client):
    asset = AssetFactory()
    response = client.get(reverse("assets:detail", args=[asset.tag]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_tag_is_404(client_as):
    response = client_as("clerk").get(reverse("assets:detail", args=["IT-1999-999999"]))
    assert response.status_code == 404


def test_history_lists_who_when_and_changed_fields_before_and_after(client_as, server_model):
    # given: created by one clerk, edited through the form by another
    creator = client_as("clerk").user
    asset = asset_create(
        actor=creator, model=server_model, data={"name": "旧名称"}, custom_values={"cpu_cores": 8}
    )
    editor_client = client_as("clerk")
    editor_client.user.first_name = "李四"
    editor_client.user.save()
    supplier = SupplierFactory(name="联想中国")
    editor_client.post(
        reverse("assets:edit", args=[asset.tag]),
        {
            "model": server_model.pk,
            "name": "新名称",
            "supplier": supplier.pk,
            "cf_cpu_cores": "16",
        },
    )
    # when
    response = editor_client.get(reverse("assets:detail", args=[asset.tag]))
    # then
    latest, first = response.context["history"]
    assert first.kind == "+"
    assert first.changes == []
    assert latest.kind == "~"
    assert latest.user == editor_client.user
    assert latest.user_label == "李四"
    assert [(c.field, c.old, c.new) for c in latest.changes] == [
        (verbose("name"), "旧名称", "新名称"),
        (verbose("supplier"), "—", "联想中国"),
        ("CPU核数", "8", "16"),
    ]
    body = response.content.decode()
    assert "旧名称" in body
    assert "新名称" in body
    assert "李四" in body


def test_history_shows_status_changes_by_label(client_as):
    # given: a status change saved with a history record (stands in for the lifecycle service)
    client = client_as("clerk")
    asset = AssetFactory()
    Asset.objects.filter(pk=asset.pk).update(status="in_use")
    Asset.objects.get(pk=asset.pk).save()
    # when
    response = client.get(reverse("assets:detail", args=[asset.tag]))
    # then
    latest = response.context["history"][0]
    with translation.override("zh-hans"):
        from assets.lifecycle import Status

        expected = (verbose("status"), str(Status.IN_STOCK.label), str(Status.IN_USE.label))
    assert [(c.field, c.old, c.new) for c in latest.changes] == [expected]


def _detail_queries(client, asset) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("assets:detail", args=[asset.tag]))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _edit_many_times(asset, actor, times):
    suppliers = [SupplierFactory(), SupplierFactory()]
    for i in range(times):
        asset = asset_update(
            actor=actor,
            asset=asset,
            model=asset.model,
            data={"supplier": suppliers[i % 2], "name": f"名称{i}"},
        )
    return asset


def test_detail_query_count_is_bounded_and_does_not_grow_with_history(client_as, server_model):
    # given: two assets with the same kinds of change, 2 and 25 edits
    client = client_as("clerk")
    short = asset_create(actor=client.user, model=server_model, data={})
    long = asset_create(actor=client.user, model=server_model, data={})
    _edit_many_times(short, client.user, 2)
    _edit_many_times(long, client.user, 25)
    _detail_queries(client, short)  # warm per-process caches (content types, permissions)
    # when
    few = _detail_queries(client, short)
    many = _detail_queries(client, long)
    # then
    assert few == many
    # user (with roles and person), asset, custom fields, attachments, permissions, history
    # and the names of the suppliers it mentions; lifecycle: repair cost totals and events
    assert many <= 9


def test_qr_code_encodes_the_site_url_of_the_asset():
    # given
    tag = "IT-2026-000042"
    expected_url = f"{settings.SITE_URL}/assets/{tag}/"
    # when
    code = qr_code(tag)
    svg = qr_svg(tag)
    # then
    assert asset_url(tag) == expected_url
    assert code.matrix == segno.make(expected_url, error="m", micro=False).matrix
    assert svg.startswith("<svg ")
    assert 'class="asset-qr"' in svg
    assert "<?xml" not in svg
