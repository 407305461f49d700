"""Create and edit forms: custom fields from the category schema, dependent selects, HTMX
validation, errors next to their fields in Chinese, and nothing saved on bad input."""

from decimal import Decimal

import pytest
from django import forms
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation

from assets.models import Asset, Category, CustomField
from assets.selectors import person_for
from assets.services import asset_create

from .factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    CustomFieldFactory,
    ManufacturerFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def zh(message) -> str:
    """A message as a zh-hans user reads it (msgids are English until the .po is filled)."""
    with translation.override("zh-hans"):
        return str(message)


@pytest.fixture
def laptop_model():
    """A model whose category (笔记本电脑) inherits 内存 from its parent (计算机设备)."""
    parent = CategoryFactory(name="计算机设备")
    child = CategoryFactory(name="笔记本电脑", parent=parent)
    CustomFieldFactory(
        category=parent,
        key="ram_gb",
        label="内存(GB)",
        field_type=CustomField.Type.INTEGER,
        required=True,
    )
    CustomFieldFactory(
        category=child,
        key="os",
        label="操作系统",
        field_type=CustomField.Type.CHOICE,
        choices=["Windows", "Linux"],
    )
    return AssetModelFactory(category=child, name="ThinkPad X1", manufacturer__name="联想")


def asset_post(model, **overrides) -> dict:
    data = {
        "model": model.pk,
        "name": "",
        "serial_number": "",
        "department": "",
        "holder": "",
        "location": "",
        "supplier": "",
        "order_number": "",
        "invoice_number": "",
        "purchase_date": "",
        "cost": "",
        "warranty_end": "",
        "useful_life_months": "",
        "residual_rate": "",
        "notes": "",
    }
    data.update(overrides)
    return data


# --- create -----------------------------------------------------------------------------------


def test_create_page_renders_for_clerk(client_as):
    # given
    client = client_as("clerk")
    # when
    response = client.get(reverse("assets:create"))
    # then
    assert response.status_code == 200
    assert b'id="asset-form"' in response.content
    assert b'hx-get="/assets/models/options/"' in response.content


@pytest.mark.parametrize("role", ["employee", "dept_head", "auditor", "keeper", None])
def test_create_is_forbidden_without_add_permission(client_as, role, laptop_model):
    # given
    client = client_as(role)
    # when
    get = client.get(reverse("assets:create"))
    post = client.post(reverse("assets:create"), asset_post(laptop_model, cf_ram_gb="8"))
    # then
    assert get.status_code == 403
    assert post.status_code == 403
    assert Asset.objects.count() == 0


def test_create_requires_login(client):
    response = client.get(reverse("assets:create"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_create_with_custom_fields_saves_and_redirects_to_detail(client_as, laptop_model):
    # given
    client = client_as("clerk")
    data = asset_post(
        laptop_model,
        serial_number="PF-0001",
        cost="6999.00",
        purchase_date="2026-01-15",
        cf_ram_gb="16",
        cf_os="Linux",
    )
    # when
    response = client.post(reverse("assets:create"), data)
    # then
    asset = Asset.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("assets:detail", args=[asset.tag])
    assert asset.name == "ThinkPad X1"
    assert asset.category_id == laptop_model.category_id
    assert asset.manufacturer_id == laptop_model.manufacturer_id
    assert asset.serial_number == "PF-0001"
    assert asset.cost == Decimal("6999.00")
    assert asset.custom_fields == {"ram_gb": 16, "os": "Linux"}
    assert asset.created_by == client.user
    assert asset.status == "in_stock"


def test_create_via_htmx_answers_with_hx_redirect(client_as, laptop_model):
    # given
    client = client_as("clerk")
    # when
    response = client.post(
        reverse("assets:create"), asset_post(laptop_model, cf_ram_gb="8"), **HTMX
    )
    # then
    asset = Asset.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("assets:detail", args=[asset.tag])


def test_htmx_invalid_post_returns_the_form_fragment_with_field_errors(client_as, laptop_model):
    # given
    client = client_as("clerk")
    # when: the required custom field is missing
    response = client.post(reverse("assets:create"), asset_post(laptop_model), **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "HX-Redirect" not in response
    assert body.lstrip().startswith('<form id="asset-form"')
    assert "<html" not in body
    assert response.context["form"].errors["cf_ram_gb"] == [
        zh(forms.Field.default_error_messages["required"])
    ]
    assert 'name="cf_ram_gb"' in body
    assert "is-invalid" in body
    assert Asset.objects.count() == 0


def test_duplicate_serial_is_rejected_next_to_the_field_and_nothing_saved(client_as, laptop_model):
    # given
    existing = AssetFactory(model=laptop_model, serial_number="PF-0001")
    client = client_as("clerk")
    # when
    response = client.post(
        reverse("assets:create"),
        asset_post(laptop_model, serial_number="PF-0001", cf_ram_gb="16"),
    )
    # then
    form = response.context["form"]
    with translation.override("zh-hans"):
        expected = translation.gettext(
            "Serial number %(sn)s already exists for this manufacturer."
        ) % {"sn": "PF-0001"}
    assert response.status_code == 200
    assert form.errors["serial_number"] == [expected]
    assert not form.non_field_errors()
    assert expected in response.content.decode()
    assert list(Asset.objects.values_list("pk", flat=True)) == [existing.pk]


def test_same_serial_of_another_manufacturer_is_allowed(client_as, laptop_model):
    # given
    AssetFactory(model=AssetModelFactory(manufacturer=ManufacturerFactory()), serial_number="S1")
    client = client_as("clerk")
    # when
    response = client.post(
        reverse("assets:create"), asset_post(laptop_model, serial_number="S1", cf_ram_gb="4")
    )
    # then
    assert response.status_code == 302
    assert Asset.objects.filter(serial_number="S1").count() == 2


def test_unknown_custom_field_key_is_rejected_and_nothing_saved(client_as, laptop_model):
    # given
    client = client_as("clerk")
    # when
    response = client.post(
        reverse("assets:create"), asset_post(laptop_model, cf_ram_gb="16", cf_colour="red")
    )
    # then
    form = response.context["form"]
    with translation.override("zh-hans"):
        expected = translation.gettext("“%(key)s” is not a field of this category.") % {
            "key": "colour"
        }
    assert response.status_code == 200
    assert form.non_field_errors() == [expected]
    assert expected in response.content.decode()
    assert Asset.objects.count() == 0


def test_wrong_type_in_custom_integer_field_is_rejected_in_chinese(client_as, laptop_model):
    # given
    client = client_as("clerk")
    # when
    response = client.post(reverse("assets:create"), asset_post(laptop_model, cf_ram_gb="十六"))
    # then
    message = zh(forms.IntegerField.default_error_messages["invalid"])
    assert message == "输入整数。"
    assert response.status_code == 200
    assert response.context["form"].errors["cf_ram_gb"] == [message]
    assert message in response.content.decode()
    assert Asset.objects.count() == 0


def test_model_service_errors_land_on_their_fields(client_as, laptop_model):
    # given: a negative cost passes the form field but not the model's validators
    client = client_as("clerk")
    # when
    response = client.post(
        reverse("assets:create"), asset_post(laptop_model, cost="-1", cf_ram_gb="4")
    )
    # then
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["cost"]
    assert Asset.objects.count() == 0


# --- dependent selects ---------------------------------------------------------------------


def test_model_options_lists_models_of_the_category_and_its_children(client_as, laptop_model):
    # given
    other = AssetModelFactory(name="打印机X")
    inactive = AssetModelFactory(category=laptop_model.category, is_active=False)
    parent = Category.objects.get(name="计算机设备")
    client = client_as("clerk")
    # when
    response = client.get(reverse("assets:model_options"), {"category": parent.pk}, **HTMX)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("<option") == 2  # the empty choice and the one laptop model
    assert f'value="{laptop_model.pk}"' in body
    assert f'value="{other.pk}"' not in body
    assert f'value="{inactive.pk}"' not in body


def test_model_options_is_forbidden_to_employees(client_as):
    response = client_as("employee").get(reverse("assets:model_options"))
    assert response.status_code == 403


def test_choosing_a_model_renders_its_custom_field_block(client_as, laptop_model):
    # given
    client = client_as("clerk")
    # when
    response = client.get(
        reverse("assets:create"),
        {"model": laptop_model.pk, "cf_ram_gb": "32"},
        HTTP_HX_TARGET="custom-fields",
        **HTMX,
    )
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<fieldset id="custom-fields"')
    assert 'name="cf_ram_gb"' in body
    assert 'value="32"' in body  # what was typed survives the model change
    assert 'name="cf_os"' in body
    assert 'name="serial_number"' not in body


def test_category_narrows_the_model_select_when_posted(client_as, laptop_model):
    # given
    other = AssetModelFactory()
    client = client_as("clerk")
    # when: an out-of-date page posts a model outside the chosen category
    response = client.post(
        reverse("assets:create"),
        asset_post(other, category=laptop_model.category_id, cf_ram_gb="4"),
    )
    # then
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["model"]
    assert Asset.objects.count() == 0


# --- edit -------------------------------------------------------------------------------------


def test_edit_updates_fields_and_custom_values(client_as, laptop_model):
    # given
    client = client_as("clerk")
    asset = asset_create(
        actor=client.user, model=laptop_model, data={}, custom_values={"ram_gb": 8}
    )
    holder = PersonFactory(name="张三")
    # when
    response = client.post(
        reverse("assets:edit", args=[asset.tag]),
        asset_post(laptop_model, name="研发笔记本", holder=holder.pk, cf_ram_gb="32"),
    )
    # then
    asset.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("assets:detail", args=[asset.tag])
    assert asset.name == "研发笔记本"
    assert asset.holder is None  # placement changes only through lifecycle transitions
    assert asset.custom_fields == {"ram_gb": 32}
    assert asset.updated_by == client.user
    assert asset.history.count() == 2


def test_edit_page_shows_current_custom_values(client_as, laptop_model):
    # given
    client = client_as("clerk")
    asset = asset_create(
        actor=client.user, model=laptop_model, data={}, custom_values={"ram_gb": 24, "os": "Linux"}
    )
    # when
    response = client.get(reverse("assets:edit", args=[asset.tag]))
    # then
    form = response.context["form"]
    assert response.status_code == 200
    assert form["cf_ram_gb"].value() == 24
    assert form["cf_os"].value() == "Linux"
    assert form["category"].value() == laptop_model.category_id


def test_edit_with_invalid_custom_value_changes_nothing(client_as, laptop_model):
    # given
    client = client_as("clerk")
    asset = asset_create(
        actor=client.user, model=laptop_model, data={}, custom_values={"ram_gb": 8}
    )
    # when
    response = client.post(
        reverse("assets:edit", args=[asset.tag]),
        asset_post(laptop_model, name="改名", cf_ram_gb="abc"),
    )
    # then
    asset.refresh_from_db()
    assert response.status_code == 200
    assert asset.name == "ThinkPad X1"
    assert asset.custom_fields == {"ram_gb": 8}
    assert asset.history.count() == 1


@pytest.mark.parametrize("role", ["auditor", "employee", "dept_head"])
def test_edit_is_forbidden_without_change_permission(client_as, role):
    # given
    client = client_as(role)
    person = PersonFactory(user=client.user)
    asset = AssetFactory(holder=person, name="原名")
    # when
    get = client.get(reverse("assets:edit", args=[asset.tag]))
    post = client.post(reverse("assets:edit", args=[asset.tag]), asset_post(asset.model))
    # then
    asset.refresh_from_db()
    assert get.status_code == 403
    assert post.status_code == 403
    assert asset.name == "原名"


def test_edit_outside_the_users_scope_is_404(client_as, make_user):
    # given: may change assets, but only sees their own
    user = make_user("employee")
    user.user_permissions.add(Permission.objects.get(codename="change_asset"))
    PersonFactory(user=user)
    client = client_as(user=user)
    others = AssetFactory(holder=PersonFactory())
    # when
    response = client.get(reverse("assets:edit", args=[others.tag]))
    # then
    assert person_for(user) is not None
    assert response.status_code == 404


def test_edit_unknown_tag_is_404(client_as):
    response = client_as("clerk").get(reverse("assets:edit", args=["NO-SUCH-TAG"]))
    assert response.status_code == 404


def test_editing_cannot_move_an_asset_outside_a_transition(clerk):
    # given
    from django.core.exceptions import ValidationError

    from assets.services import asset_update
    from assets.tests.factories import AssetFactory, PersonFactory

    holder = PersonFactory()
    asset = AssetFactory(holder=holder)
    other = PersonFactory()
    # when
    with pytest.raises(ValidationError) as exc:
        asset_update(actor=clerk, asset=asset, model=asset.model, data={"holder": other})
    # then
    assert set(exc.value.message_dict) == {"holder"}
    asset.refresh_from_db()
    assert asset.holder == holder
