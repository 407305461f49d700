"""Issue 3's journey in a browser: an asset clerk registers a laptop with a category field and
a photo (stored on S3, the local ``weed`` server), finds it by its tag on the list, prints its
QR label; an employee sees only their own asset and gets 404 on someone else's."""

import io
import re

from django.urls import reverse
from playwright.sync_api import expect

from assets.models import Asset, Attachment, CustomField
from assets.tests.factories import (
    AssetFactory,
    AssetModelFactory,
    CategoryFactory,
    CustomFieldFactory,
    DepartmentFactory,
    PersonFactory,
)

PASSWORD = "Passw0rd!2026"


def jpeg_bytes(size=(640, 480)) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (30, 90, 160))
    ImageDraw.Draw(image).rectangle((40, 40, size[0] - 40, size[1] - 40), outline=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def sign_in(page, user) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.get_by_test_id("user-menu")).to_be_visible()


def custom_fields_loaded(response) -> bool:
    """The htmx request that reloads the form's category-field block."""
    return response.request.headers.get("hx-target") == "custom-fields"


def test_clerk_registers_finds_and_labels_an_asset_employee_sees_only_their_own(
    make_page, make_user, s3_storage, screenshots
):
    # given: a category with a required text field, its model, and two employees' laptops
    computers = CategoryFactory(name="计算机设备")
    laptops = CategoryFactory(parent=computers, name="笔记本电脑")
    CustomFieldFactory(
        category=laptops,
        key="config",
        label="配置",
        field_type=CustomField.Type.TEXT,
        required=True,
    )
    model = AssetModelFactory(category=laptops, name="ThinkPad X1 Carbon")
    AssetModelFactory(category=CategoryFactory(name="显示器"), name="Dell U2723QE")
    rd = DepartmentFactory(name="研发中心")
    clerk = make_user("clerk", first_name="李管理")
    employee = make_user("employee", first_name="张三")
    zhang = PersonFactory(user=employee, department=rd, name="张三")
    own = AssetFactory(model=model, holder=zhang, department=rd, assigned=True)
    others = AssetFactory(model=model, holder=PersonFactory(name="王五"), assigned=True)
    page = make_page()
    sign_in(page, clerk)

    # when: the clerk opens the form, picks the category, then the model
    page.goto(reverse("assets:create"))
    with page.expect_response(custom_fields_loaded):
        page.select_option("#id_category", str(laptops.pk))
    expect(page.locator("#id_model option", has_text="Dell U2723QE")).to_have_count(0)
    with page.expect_response(custom_fields_loaded):
        page.select_option("#id_model", str(model.pk))
    config = page.locator("#custom-fields input[name=cf_config]")
    expect(config).to_be_visible()
    page.fill("#id_name", "研发测试笔记本")
    page.fill("#id_serial_number", "PF-E2E-0001")
    page.fill("#id_cost", "8999.00")
    # then: saving without the required field shows the error next to it
    page.get_by_test_id("save-asset").click()
    expect(page.locator("#custom-fields .invalid-feedback")).to_be_visible()
    assert not Asset.objects.filter(serial_number="PF-E2E-0001").exists()
    page.screenshot(path=screenshots / "register-form-error.png", full_page=True)

    # when: the field is filled in
    page.locator("#custom-fields input[name=cf_config]").fill("i7 / 32 GB / 1 TB")
    page.get_by_test_id("save-asset").click()
    # then: the detail page of the new asset shows the field
    expect(page).to_have_url(re.compile(r"/assets/IT-\d{4}-\d{6}/$"))
    asset = Asset.objects.get(serial_number="PF-E2E-0001")
    expect(page.get_by_test_id("asset-tag")).to_have_text(asset.tag)
    expect(page.get_by_test_id("custom-fields")).to_contain_text("i7 / 32 GB / 1 TB")
    assert asset.custom_fields == {"config": "i7 / 32 GB / 1 TB"}

    # when: a photo is uploaded
    page.set_input_files(
        "#attachment-form input[name=file]",
        files=[{"name": "laptop.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}],
    )
    page.get_by_test_id("upload-attachment").click()
    # then: its thumbnail shows, served from the private bucket through a presigned URL
    thumb = page.get_by_test_id("photos").locator("img")
    expect(thumb).to_have_count(1)
    thumb.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    attachment = Attachment.objects.get(asset=asset)
    assert (attachment.content_type, attachment.original_name) == ("image/jpeg", "laptop.jpg")
    assert s3_storage.client().head_object(Bucket=s3_storage.bucket, Key=attachment.file.name)
    page.screenshot(path=screenshots / "register-detail.png", full_page=True)

    # when: the clerk searches the list by the tag
    page.goto(reverse("assets:list"))
    expect(page.locator("#asset-table tbody tr")).to_have_count(3)
    page.get_by_test_id("asset-search").fill(asset.tag)
    # then: only that asset is left, and the address bar keeps the search
    rows = page.locator("#asset-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(asset.tag)
    expect(rows.first).to_contain_text("研发测试笔记本")
    expect(page).to_have_url(re.compile(r"[?&]q=IT-"))
    page.screenshot(path=screenshots / "register-search.png", full_page=True)

    # when: the label is printed with the clerk's session
    label = page.request.get(reverse("assets:label", args=[asset.tag]) + "?format=50x30")
    # then
    assert label.status == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.body().startswith(b"%PDF-")

    # when: the employee signs in (a browser of their own)
    employee_page = make_page()
    sign_in(employee_page, employee)
    employee_page.goto(reverse("assets:list"))
    # then: the list holds their laptop only
    rows = employee_page.locator("#asset-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(own.tag)
    employee_page.screenshot(path=screenshots / "register-employee-list.png", full_page=True)
    # and someone else's asset, or the new one, is not found
    for tag in (others.tag, asset.tag):
        response = employee_page.goto(reverse("assets:detail", args=[tag]))
        assert response.status == 404
    assert employee_page.request.get(reverse("assets:label", args=[asset.tag])).status == 404
