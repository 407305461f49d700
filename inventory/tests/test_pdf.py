"""The printed document (入库单, 出库单, ...): Chinese text read back with poppler, the CJK font
embedded, signature lines; drafts have no PDF; the page's permissions."""

import re
import subprocess

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from assets.tests.factories import SupplierFactory
from inventory import services
from inventory.pdf import render_document
from inventory.selectors import document_get

from .factories import DocumentFactory, ItemFactory


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode()


def pdf_fonts(pdf: bytes, tmp_path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True)
    return [line.split() for line in out.stdout.splitlines()[2:]]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


@pytest.fixture
def receipt(keeper, warehouse, item):
    mouse = ItemFactory(code="MOUSE-1", name="无线鼠标", unit="个")
    return services.document_create_and_post(
        actor=keeper,
        type="receipt",
        warehouse=warehouse,
        supplier=SupplierFactory(name="京东企业购"),
        invoice_no="FP-2026-001",
        lines=[
            {"item": item, "quantity": 10, "unit_cost": "12.50"},
            {"item": mouse, "quantity": 3, "unit_cost": "49.90"},
        ],
    ).document


def test_a_posted_receipt_prints_with_chinese_text(receipt, keeper, tmp_path):
    document = document_get(user=keeper, pk=receipt.pk)

    text = squash(pdf_text(render_document(document), tmp_path))

    for expected in (
        receipt.number,
        "硒鼓",
        "TONER-26A",
        "无线鼠标",
        "京东企业购",
        "FP-2026-001",
        "125.00",
        "149.70",
        "274.70",  # the total
        squash(str(receipt.warehouse)),
        squash(zh("Stock receipt note")),
        squash(zh("Delivered by")),
        squash(zh("Received by (keeper)")),
    ):
        assert squash(expected) in text


def test_the_cjk_font_is_embedded(receipt, keeper, tmp_path):
    pdf = render_document(document_get(user=keeper, pk=receipt.pk))

    fonts = pdf_fonts(pdf, tmp_path)

    cjk = [row for row in fonts if "WenQuanYiZenHei" in row[0]]
    assert cjk
    assert (cjk[0][-5], cjk[0][-4]) == ("yes", "yes")  # embedded, subset


def test_an_issue_prints_the_recipient_and_its_signature_lines(
    keeper, warehouse, item, person, receipt, tmp_path
):
    issue = services.document_create_and_post(
        actor=keeper,
        type="issue",
        warehouse=warehouse,
        person=person,
        lines=[{"item": item, "quantity": 2}],
    ).document

    text = squash(pdf_text(render_document(document_get(user=keeper, pk=issue.pk)), tmp_path))

    for expected in (issue.number, "张三", "硒鼓", zh("Stock issue note"), zh("Received by")):
        assert squash(expected) in text


def test_the_pdf_page(client_as, keeper, receipt):
    response = client_as(user=keeper).get(reverse("inventory:document_pdf", args=[receipt.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{receipt.number}.pdf"'
    assert response.content.startswith(b"%PDF")


def test_a_draft_has_no_pdf(client_as, keeper, warehouse, item):
    draft = DocumentFactory(warehouse=warehouse, lines=[(item, 1, "1")])

    response = client_as(user=keeper).get(reverse("inventory:document_pdf", args=[draft.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize(("role", "status"), [("auditor", 200), ("employee", 403)])
def test_who_may_print(client_as, receipt, role, status):
    response = client_as(role).get(reverse("inventory:document_pdf", args=[receipt.pk]))

    assert response.status_code == status
