"""QR labels: PDF content per format (read back with poppler), CJK font embedding, sheet
layout, text fitting, and who may print what."""

import re
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import reverse

from assets import labels
from assets.labels import FORMATS, fit_text, label_font, render_labels
from assets.models import Person
from assets.qr import asset_url

from .factories import AssetFactory, AssetModelFactory, DepartmentFactory

ORG = "上海示例科技有限公司"


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "labels.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode()


def pdf_pages(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    return int(re.search(r"^Pages:\s+(\d+)", out.stdout, re.M).group(1))


def pdf_fonts(pdf: bytes, tmp_path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True)
    return [line.split() for line in out.stdout.splitlines()[2:]]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def laptop(db):
    root = DepartmentFactory(name="总部", code="HQ")
    dept = DepartmentFactory(parent=root, name="研发中心", code="RD")
    model = AssetModelFactory(name="联想笔记本电脑")
    return AssetFactory(tag="IT-2026-000042", model=model, name="联想笔记本电脑", department=dept)


# --- Rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_format_is_a_pdf_with_tag_name_department_and_organisation(laptop, fmt, tmp_path):
    # when
    pdf = render_labels([laptop], fmt=fmt, organisation=ORG)

    # then
    assert pdf.startswith(b"%PDF-")
    text = squash(pdf_text(pdf, tmp_path))
    assert "IT-2026-000042" in text
    assert "联想笔记本电脑" in text
    assert "总部/研发中心" in text
    assert ORG in text
    assert pdf_pages(pdf, tmp_path) == 1


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_cjk_font_is_embedded(laptop, fmt, tmp_path):
    pdf = render_labels([laptop], fmt=fmt, organisation=ORG)

    fonts = pdf_fonts(pdf, tmp_path)

    cjk = [f for f in fonts if "WenQuanYiZenHei" in f[0]]
    assert len(cjk) == 1
    # columns: name type [type...] encoding emb sub uni object-id generation
    emb, sub = cjk[0][-5], cjk[0][-4]
    assert (emb, sub) == ("yes", "yes")


def test_thermal_labels_have_one_label_per_page_of_the_label_size(db, tmp_path):
    assets = AssetFactory.create_batch(3)

    pdf = render_labels(assets, fmt="70x40", organisation=ORG)

    assert pdf_pages(pdf, tmp_path) == 3
    path = tmp_path / "size.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (70, 40)


def test_a4_sheet_holds_24_labels_per_page(db, tmp_path):
    assets = AssetFactory.create_batch(25)

    pdf = render_labels(assets, fmt="a4-3x8", organisation=ORG)

    assert pdf_pages(pdf, tmp_path) == 2
    text = pdf_text(pdf, tmp_path)
    first, second = text.split("\f")[:2]
    assert sum(a.tag in first for a in assets) == 24
    assert [a.tag for a in assets if a.tag in second] == [assets[24].tag]


def test_a4_sheet_of_exactly_24_is_one_page(db, tmp_path):
    pdf = render_labels(AssetFactory.create_batch(24), fmt="a4-3x8", organisation=ORG)

    assert pdf_pages(pdf, tmp_path) == 1


def test_a_long_name_is_wrapped_and_cut_with_an_ellipsis():
    font = label_font()
    name = "戴尔 Dell UltraSharp U2723QE 27英寸4K显示器 带USB-C集线器 " * 4

    size, lines = fit_text(name, font, width=70, max_size=8, max_lines=2, min_size=5)

    assert size == 5
    assert len(lines) == 2
    assert lines[-1].endswith("…")
    assert all(labels._width(line, font, size) <= 70 for line in lines)


def test_a_short_name_keeps_the_largest_size():
    size, lines = fit_text("显示器", label_font(), width=70, max_size=8, max_lines=2, min_size=5)

    assert (size, lines) == (8, ["显示器"])


def test_english_wraps_between_words():
    lines = labels.wrap_text("Cisco Catalyst 9300 switch", label_font(), 8, 60)

    assert all(not line.startswith(" ") and not line.endswith(" ") for line in lines)
    assert " ".join(lines) == "Cisco Catalyst 9300 switch"


@override_settings(SITE_URL="https://assets.example.cn")
def test_the_qr_code_encodes_the_detail_page_address():
    assert asset_url("IT-2026-000042") == "https://assets.example.cn/assets/IT-2026-000042/"


def test_unknown_format_is_refused(laptop):
    with pytest.raises(ValueError, match="unknown label format"):
        render_labels([laptop], fmt="100x100", organisation=ORG)


@override_settings(LABEL_FONT_PATH="/nonexistent/font.ttc")
def test_a_missing_font_says_which_package_to_install():
    with pytest.raises(ImproperlyConfigured, match="fonts-wqy-zenhei"):
        label_font()


# --- One label ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "clerk", "auditor"])
def test_register_roles_print_any_label(client_as, laptop, role, tmp_path):
    client = client_as(role)

    response = client.get(reverse("assets:label", args=[laptop.tag]), {"format": "50x30"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="label-IT-2026-000042.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert "IT-2026-000042" in pdf_text(response.content, tmp_path)


def test_the_default_format_is_50x30(client_as, laptop, tmp_path):
    response = client_as("clerk").get(reverse("assets:label", args=[laptop.tag]))

    path = tmp_path / "default.pdf"
    path.write_bytes(response.content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (50, 30)


def test_an_employee_prints_their_own_asset(client_as, make_user, laptop):
    user = make_user("employee")
    laptop.holder = Person.objects.create(employee_no="E1", name="张三", user=user)
    laptop.save()

    response = client_as(user=user).get(reverse("assets:label", args=[laptop.tag]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_an_employee_gets_404_for_someone_elses_asset(client_as, laptop):
    response = client_as("employee").get(reverse("assets:label", args=[laptop.tag]))

    assert response.status_code == 404


def test_an_unknown_tag_is_404(client_as, db):
    response = client_as("clerk").get(reverse("assets:label", args=["IT-1999-000001"]))

    assert response.status_code == 404


def test_a_user_without_a_role_gets_403(client_as, laptop):
    response = client_as(None).get(reverse("assets:label", args=[laptop.tag]))

    assert response.status_code == 403


def test_anonymous_is_sent_to_login(client, laptop):
    response = client.get(reverse("assets:label", args=[laptop.tag]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_unknown_format_is_400(client_as, laptop):
    response = client_as("clerk").get(reverse("assets:label", args=[laptop.tag]), {"format": "A0"})

    assert response.status_code == 400


# --- A selection --------------------------------------------------------------------------------


def test_a_selection_prints_in_the_order_given(client_as, db, tmp_path):
    a, b, c = AssetFactory.create_batch(3)

    response = client_as("clerk").post(
        reverse("assets:labels"), {"tags": [c.tag, a.tag], "format": "a4-3x8"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="labels-2.pdf"'
    text = pdf_text(response.content, tmp_path)
    assert text.index(c.tag) < text.index(a.tag)
    assert b.tag not in text


def test_a_selection_by_get_with_tags_in_one_field(client_as, db, tmp_path):
    a, b = AssetFactory.create_batch(2)

    response = client_as("clerk").get(
        reverse("assets:labels"), {"tags": f"{a.tag}, {b.tag}\n{a.tag}", "format": "70x40"}
    )

    assert response.status_code == 200
    assert pdf_pages(response.content, tmp_path) == 2  # the duplicate is printed once


def test_a_selection_with_tags_out_of_scope_is_reported_and_nothing_printed(
    client_as, make_user, db
):
    user = make_user("employee")
    mine = AssetFactory(holder=Person.objects.create(employee_no="E7", name="李四", user=user))
    theirs = AssetFactory()

    response = client_as(user=user).post(
        reverse("assets:labels"), {"tags": [mine.tag, theirs.tag, "NOPE-1"], "format": "50x30"}
    )

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    errors = response.context["form"].errors["tags"]
    assert len(errors) == 1
    assert theirs.tag in errors[0]
    assert "NOPE-1" in errors[0]
    assert mine.tag not in errors[0]


def test_a_selection_above_the_cap_is_refused(client_as, db):
    tags = [f"IT-2026-{n:06d}" for n in range(1001)]

    response = client_as("clerk").post(reverse("assets:labels"), {"tags": tags})

    assert response.status_code == 400
    [error] = response.context["form"].errors["tags"]
    assert "1000" in error
    assert "1001" in error


def test_a_selection_of_exactly_the_cap_is_accepted_by_the_form(client_as, db):
    # 1,000 repeated fields plus the format pass Django's field limit; all unknown here.
    tags = [f"IT-2026-{n:06d}" for n in range(1000)]

    response = client_as("clerk").post(reverse("assets:labels"), {"tags": tags})

    assert response.status_code == 400
    [error] = response.context["form"].errors["tags"]
    assert "IT-2026-000000" in error  # reported as unknown, not refused by the cap


def test_an_unknown_format_in_a_selection_is_reported(client_as, laptop):
    response = client_as("clerk").post(
        reverse("assets:labels"), {"tags": [laptop.tag], "format": "A0"}
    )

    assert response.status_code == 400
    assert "format" in response.context["form"].errors


def test_without_tags_the_page_shows_the_form(client_as, db):
    response = client_as("clerk").get(reverse("assets:labels"))

    assert response.status_code == 200
    assert b'name="tags"' in response.content
    assert b'value="a4-3x8"' in response.content


def test_a_selection_needs_a_role(client_as, laptop):
    response = client_as(None).post(reverse("assets:labels"), {"tags": [laptop.tag]})

    assert response.status_code == 403


def test_a_selection_reads_a_bounded_number_of_queries(
    client_as, db, django_assert_max_num_queries
):
    client = client_as("clerk")
    tags = [a.tag for a in AssetFactory.create_batch(30)]

    with django_assert_max_num_queries(6):
        response = client.post(reverse("assets:labels"), {"tags": tags, "format": "a4-3x8"})

    assert response.status_code == 200
