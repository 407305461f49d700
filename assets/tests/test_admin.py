"""The Django admin for clerks: who may enter, every page opens, query counts stay bounded,
assets are saved through the services, and reference data exports safely."""

import csv
import io
import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from assets.lifecycle import Status
from assets.models import (
    Asset,
    Attachment,
    Category,
    CustomField,
    Department,
    Supplier,
    TagSequence,
    UserPreference,
)

from .factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    CustomFieldFactory,
    DepartmentFactory,
    LocationFactory,
    PersonFactory,
    SupplierFactory,
)

ASSETS_MODELS = sorted(
    (m for m in admin.site._registry if m._meta.app_label == "assets"),
    key=lambda m: m._meta.model_name,
)
# Written only by services (attachments, preferences) or never by hand (tag sequences).
NO_ADD = {Attachment, TagSequence, UserPreference}
# Lifecycle records: written only by the lifecycle services (assets/admin_lifecycle.py).
NO_ADD |= {m for m in ASSETS_MODELS if m.__module__ == "assets.models.events"}
INLINE_MGMT = {
    "attachments-TOTAL_FORMS": "0",
    "attachments-INITIAL_FORMS": "0",
    "attachments-MIN_NUM_FORMS": "0",
    "attachments-MAX_NUM_FORMS": "0",
}


def admin_url(model, page, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


@pytest.fixture
def register(db):
    """A little of everything, so that every changelist has rows to show."""
    dept = DepartmentFactory(name="总部", code="HQ")
    person = PersonFactory(name="王五", department=dept)
    location = LocationFactory(name="一号楼")
    category = CategoryFactory(name="计算机设备")
    CustomFieldFactory(category=category, key="cpu", label="处理器")
    asset = AssetFactory(
        model=AssetModelFactory(category=category),
        department=dept,
        holder=person,
        location=location,
    )
    SupplierFactory(name="华为技术有限公司")
    TagSequence.objects.create(prefix="IT-2026-", last_value=7)
    return asset


def test_every_assets_model_is_registered():
    names = {m._meta.model_name for m in ASSETS_MODELS}

    assert names >= {
        "asset",
        "assetmodel",
        "attachment",
        "category",
        "customfield",
        "department",
        "location",
        "manufacturer",
        "person",
        "supplier",
        "tagsequence",
        "userpreference",
    }


@pytest.mark.parametrize("role", ["admin", "clerk"])
@pytest.mark.parametrize("model", ASSETS_MODELS, ids=lambda m: m._meta.model_name)
def test_admin_and_clerk_open_every_changelist_and_add_page(client_as, register, role, model):
    client = client_as(role)

    changelist = client.get(admin_url(model, "changelist"))
    add = client.get(admin_url(model, "add"))

    assert changelist.status_code == 200
    assert add.status_code == (403 if model in NO_ADD else 200)


@pytest.mark.parametrize("role", ["admin", "clerk"])
def test_the_asset_change_and_history_pages_open(client_as, register, role):
    client = client_as(role)

    change = client.get(admin_url(Asset, "change", register.pk))
    history = client.get(admin_url(Asset, "history", register.pk))

    assert change.status_code == 200
    assert history.status_code == 200
    assert b'name="status"' not in change.content  # shown, never editable
    assert b'name="tag"' not in change.content


@pytest.mark.parametrize("role", ["employee", "auditor", "dept_head", "keeper", None])
def test_other_roles_get_403(client_as, register, role):
    client = client_as(role)

    assert client.get(reverse("admin:index")).status_code == 403
    assert client.get(admin_url(Asset, "changelist")).status_code == 403
    assert client.get(admin_url(Department, "changelist")).status_code == 403


def test_anonymous_is_sent_to_the_site_login(client, db):
    response = client.get(admin_url(Asset, "changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- Query bounds -------------------------------------------------------------------------------


def _changelist_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _assets_with_relations(n):
    dept = DepartmentFactory()
    model = AssetModelFactory()
    for _ in range(n):
        AssetFactory(
            model=model,
            department=dept,
            holder=PersonFactory(department=dept),
            location=LocationFactory(),
        )


def test_asset_changelist_queries_do_not_grow_with_rows(
    client_as, db, django_assert_max_num_queries
):
    client = client_as("clerk")
    _assets_with_relations(5)
    few = _changelist_queries(client, Asset)
    _assets_with_relations(45)

    with django_assert_max_num_queries(few):
        response = client.get(admin_url(Asset, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 50
    assert few <= 15


@pytest.mark.parametrize("model_name", ["person", "assetmodel", "department", "attachment"])
def test_reference_changelists_do_not_grow_with_rows(client_as, db, model_name):
    client = client_as("clerk")
    model = next(m for m in ASSETS_MODELS if m._meta.model_name == model_name)

    def make(n):
        for _ in range(n):
            if model_name == "person":
                PersonFactory()
            elif model_name == "assetmodel":
                AssetModelFactory()
            elif model_name == "department":
                DepartmentFactory(head=PersonFactory())
            else:
                from .factories import AttachmentFactory

                AttachmentFactory()

    make(3)
    few = _changelist_queries(client, model)
    make(30)
    many = _changelist_queries(client, model)

    assert many == few


# --- Saving assets through the services ---------------------------------------------------------


def _asset_post(model, **extra):
    data = {"model": model.pk, "name": "", "custom_fields": "{}", **INLINE_MGMT}
    data.update(extra)
    return data


def test_adding_an_asset_allocates_a_tag_and_records_history(client_as, register):
    client = client_as("clerk")
    model = register.model

    response = client.post(
        admin_url(Asset, "add"),
        _asset_post(model, serial_number="SN-ADMIN-1", custom_fields='{"cpu": "i7"}'),
    )

    assert response.status_code == 302
    asset = Asset.objects.get(serial_number="SN-ADMIN-1")
    assert re.fullmatch(rf"IT-{timezone.localdate():%Y}-\d{{6}}", asset.tag)
    assert asset.status == Status.IN_STOCK
    assert asset.name == model.name
    assert asset.category_id == model.category_id
    assert asset.custom_fields == {"cpu": "i7"}
    assert asset.created_by == client.user
    assert [h.history_change_reason for h in asset.history.all()] == ["create"]


def test_a_posted_status_or_tag_is_ignored(client_as, register):
    client = client_as("clerk")

    client.post(
        admin_url(Asset, "add"),
        _asset_post(register.model, serial_number="SN-X", status="disposed", tag="HACK-1"),
    )

    asset = Asset.objects.get(serial_number="SN-X")
    assert asset.status == Status.IN_STOCK
    assert asset.tag != "HACK-1"


def test_an_unknown_custom_field_is_shown_on_the_form_and_nothing_saved(client_as, register):
    client = client_as("clerk")
    before = Asset.objects.count()

    response = client.post(
        admin_url(Asset, "add"), _asset_post(register.model, custom_fields='{"colour": "red"}')
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["custom_fields"]
    assert any("colour" in e for e in errors)
    assert Asset.objects.count() == before


def test_a_duplicate_serial_is_shown_on_the_form_and_nothing_saved(client_as, register):
    client = client_as("clerk")
    register.serial_number = "SN-DUP"
    register.save()
    before = Asset.objects.count()

    response = client.post(
        admin_url(Asset, "add"), _asset_post(register.model, serial_number="SN-DUP")
    )

    assert response.status_code == 200
    assert "serial_number" in response.context["adminform"].form.errors
    assert Asset.objects.count() == before


def test_changing_an_asset_goes_through_asset_update(client_as, register):
    client = client_as("clerk")
    asset = register
    Asset.objects.filter(pk=asset.pk).update(status=Status.IN_USE)

    response = client.post(
        admin_url(Asset, "change", asset.pk),
        _asset_post(
            asset.model,
            name="新名字",
            department=asset.department_id,
            holder=asset.holder_id,
            location=asset.location_id,
            status="in_stock",
        ),
    )

    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.name == "新名字"
    assert asset.status == Status.IN_USE
    assert asset.updated_by == client.user
    assert asset.history.first().history_change_reason == "update"


def test_only_the_admin_role_may_delete_assets(client_as, register):
    assert client_as("clerk").get(admin_url(Asset, "delete", register.pk)).status_code == 403
    assert client_as("admin").get(admin_url(Asset, "delete", register.pk)).status_code == 200


def test_attachments_link_to_the_checked_download_view(client_as, register):
    from .factories import AttachmentFactory

    att = AttachmentFactory(asset=register)

    response = client_as("clerk").get(admin_url(Asset, "change", register.pk))

    url = reverse("assets:attachment", args=[register.tag, att.pk])
    assert f'href="{url}"'.encode() in response.content
    assert att.file.name.encode() not in response.content


def test_the_label_action_prints_the_selection(client_as, register):
    response = client_as("clerk").post(
        admin_url(Asset, "changelist"),
        {"action": "print_labels", "_selected_action": [register.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


# --- Trees --------------------------------------------------------------------------------------


def test_renaming_a_department_updates_the_full_names_below(client_as, db):
    root = DepartmentFactory(name="总部", code="HQ")
    child = DepartmentFactory(parent=root, name="研发中心", code="RD")
    grandchild = DepartmentFactory(parent=child, name="测试部", code="QA")

    response = client_as("clerk").post(
        admin_url(Department, "change", root.pk),
        {
            "code": "HQ",
            "name": "集团总部",
            "is_active": "on",
            "treebeard_position": "first-child",
            "treebeard_ref_node": "",
        },
    )

    assert response.status_code == 302
    grandchild.refresh_from_db()
    assert grandchild.full_name == "集团总部/研发中心/测试部"


def test_a_category_is_added_under_a_parent_with_custom_fields(client_as, db):
    parent = CategoryFactory(name="计算机设备", code="PC")

    response = client_as("clerk").post(
        admin_url(Category, "add"),
        {
            "code": "NB",
            "name": "笔记本电脑",
            "asset_class": "fixed",
            "useful_life_months": "48",
            "residual_rate": "5.00",
            "depreciation_method": "straight_line",
            "is_active": "on",
            "treebeard_position": "first-child",
            "treebeard_ref_node": str(parent.pk),
            "fields-TOTAL_FORMS": "1",
            "fields-INITIAL_FORMS": "0",
            "fields-MIN_NUM_FORMS": "0",
            "fields-MAX_NUM_FORMS": "1000",
            "fields-0-position": "1",
            "fields-0-key": "screen",
            "fields-0-label": "屏幕尺寸",
            "fields-0-field_type": "decimal",
            "fields-0-choices": "[]",
            "fields-0-help_text": "",
        },
    )

    assert response.status_code == 302
    laptop = Category.objects.get(code="NB")
    assert laptop.full_name == "计算机设备/笔记本电脑"
    assert Category.objects.get_parent(laptop) == parent
    assert list(CustomField.objects.filter(category=laptop).values_list("key", flat=True)) == [
        "screen"
    ]


# --- Exports ------------------------------------------------------------------------------------


def _export(client, model, action, pks):
    return client.post(admin_url(model, "changelist"), {"action": action, "_selected_action": pks})


def test_csv_export_has_a_bom_keeps_chinese_and_neutralises_formulas(client_as, db):
    a = Supplier.objects.create(name="=1+2", contact="张三", phone="+86 138 0000 0000")
    b = Supplier.objects.create(name="华为技术有限公司", contact="李四")

    response = _export(client_as("clerk"), Supplier, "export_csv", [a.pk, b.pk])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 3
    by_contact = {r[1]: r for r in rows[1:]}
    assert by_contact["张三"][0] == "'=1+2"
    assert by_contact["张三"][2] == "'+86 138 0000 0000"
    assert by_contact["李四"][0] == "华为技术有限公司"


def test_excel_export_stores_formula_like_text_as_text(client_as, db):
    a = Supplier.objects.create(name="=1+2", contact="@SUM(A1)")
    Supplier.objects.create(name="不导出", contact="x")

    response = _export(client_as("clerk"), Supplier, "export_xlsx", [a.pk])

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    assert rows[1][0] == "'=1+2"
    assert rows[1][1] == "'@SUM(A1)"
    assert sheet.cell(row=2, column=1).data_type == "s"


def test_a_tree_export_includes_the_subtrees_of_the_selected_nodes(client_as, db):
    root = DepartmentFactory(name="总部", code="HQ")
    child = DepartmentFactory(parent=root, name="研发中心", code="RD")
    DepartmentFactory(parent=child, name="测试部", code="QA")
    DepartmentFactory(name="分公司", code="BR")

    response = _export(client_as("clerk"), Department, "export_csv", [root.pk])

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["HQ", "RD", "QA"]
    assert rows[3][2] == "总部/研发中心/测试部"


@pytest.mark.parametrize(
    "model_name",
    ["department", "location", "person", "category", "manufacturer", "supplier", "assetmodel"],
)
def test_every_reference_model_exports_both_formats(client_as, register, model_name):
    client = client_as("clerk")
    model = next(m for m in ASSETS_MODELS if m._meta.model_name == model_name)
    pks = list(model.objects.values_list("pk", flat=True))

    as_csv = _export(client, model, "export_csv", pks)
    as_xlsx = _export(client, model, "export_xlsx", pks)

    assert as_csv.status_code == 200
    assert as_csv["Content-Type"] == "text/csv; charset=utf-8"
    assert as_xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(as_xlsx.content)).active.iter_rows(values_only=True))
    assert len(rows) == 1 + len(pks)
