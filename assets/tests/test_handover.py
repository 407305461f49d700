"""Handover receipts (交接单): the PDF (Chinese text, assets, both sides, signature lines), its
download for those who may see it, and the recipient's confirmation of receipt."""

from __future__ import annotations

import subprocess

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from assets.handover_pdf import render_handover
from assets.models import Handover
from assets.services import asset_transition, asset_transition_bulk, handover_accept

from .factories import AssetFactory, AssetModelFactory, DepartmentFactory, PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
    }
    return root


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "handover.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        check=True,
        text=True,
    )
    return result.stdout


@pytest.fixture
def assigned(clerk, make_user, django_capture_on_commit_callbacks):
    """A laptop assigned to 张三 (who has a login) of 研发中心."""
    user = make_user("employee")
    dept = DepartmentFactory(name="研发中心")
    person = PersonFactory(name="张三", department=dept, user=user)
    asset = AssetFactory(
        model=AssetModelFactory(name="ThinkPad X1 Carbon"),
        name="笔记本电脑",
        serial_number="PF-3X9K2",
    )
    with django_capture_on_commit_callbacks(execute=True):  # the PDF is stored after commit
        event = asset_transition(
            asset=asset, transition="assign", actor=clerk, data={"holder": person}
        )
    event.handover.refresh_from_db()
    return event


def test_the_stored_pdf_has_the_chinese_text_asset_and_both_sides(assigned, tmp_path):
    # given
    handover = assigned.handover
    # when
    text = pdf_text(handover.pdf.read(), tmp_path)
    # then
    assert handover.needs_acceptance is True
    for expected in (
        settings.ORGANISATION_NAME,  # 示例单位
        handover.number,
        assigned.asset.tag,
        "笔记本电脑",
        "PF-3X9K2",
        "张三",
        "研发中心",
    ):
        assert expected in text, expected


def test_a_bulk_handover_lists_every_asset(clerk, tmp_path, django_capture_on_commit_callbacks):
    # given
    person = PersonFactory(name="李四")
    assets = AssetFactory.create_batch(3)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        asset_transition_bulk(
            assets=assets, transition="assign", actor=clerk, data={"holder": person}
        )
    # then
    text = pdf_text(Handover.objects.get().pdf.read(), tmp_path)
    assert all(a.tag in text for a in assets)
    assert "李四" in text


def test_acceptance_records_who_and_when_and_shows_on_the_pdf(
    assigned, tmp_path, django_capture_on_commit_callbacks
):
    # given
    handover = assigned.handover
    recipient = handover.to_person.user
    recipient.first_name = "三"
    recipient.last_name = "张"
    recipient.save()
    before = timezone.now()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        accepted = handover_accept(handover=handover, actor=recipient)
    # then
    handover.refresh_from_db()
    assert handover.accepted_by == recipient
    assert before <= handover.accepted_at <= timezone.now()
    assert accepted.accepted_at == handover.accepted_at
    text = pdf_text(handover.pdf.read(), tmp_path)
    assert recipient.get_full_name() in text
    assert timezone.localtime(handover.accepted_at).strftime("%Y-%m-%d %H:%M") in text


def test_someone_else_cannot_accept(assigned, make_user, clerk):
    # given
    handover = assigned.handover
    # when / then: another employee and even the clerk are refused; nothing recorded
    for intruder in (make_user("employee"), clerk):
        with pytest.raises(PermissionDenied):
            handover_accept(handover=handover, actor=intruder)
    handover.refresh_from_db()
    assert (handover.accepted_by, handover.accepted_at) == (None, None)


def test_receipt_is_confirmed_only_once(assigned):
    handover = assigned.handover
    user = handover.to_person.user
    handover_accept(handover=handover, actor=user)
    first = Handover.objects.get(pk=handover.pk).accepted_at
    with pytest.raises(ValidationError):
        handover_accept(handover=handover, actor=user)
    assert Handover.objects.get(pk=handover.pk).accepted_at == first


def test_the_accept_view_answers_404_to_another_employee(assigned, client_as):
    # given: the self-service accept URL of someone else's receipt
    client = client_as("employee")
    PersonFactory(user=client.user)
    # when
    response = client.post(reverse("me:handover_accept", args=[assigned.handover.pk]))
    # then
    assert response.status_code == 404
    assigned.handover.refresh_from_db()
    assert assigned.handover.accepted_at is None


def test_the_recipient_accepts_through_the_view(assigned, client):
    # given
    handover = assigned.handover
    client.force_login(handover.to_person.user)
    # when
    response = client.post(reverse("me:handover_accept", args=[handover.pk]))
    # then
    assert response.status_code == 302
    handover.refresh_from_db()
    assert handover.accepted_by == handover.to_person.user


# --- Download ---------------------------------------------------------------------------------


def test_the_clerk_downloads_the_stored_pdf(assigned, client_as):
    client = client_as("clerk")
    response = client.get(reverse("assets:handover_pdf", args=[assigned.handover.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_the_recipient_downloads_it(assigned, client):
    client.force_login(assigned.handover.to_person.user)
    response = client.get(reverse("assets:handover_pdf", args=[assigned.handover.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("role", ["employee", "dept_head", None])
def test_people_who_cannot_see_its_assets_get_404(assigned, client_as, role):
    client = client_as(role)
    response = client.get(reverse("assets:handover_pdf", args=[assigned.handover.pk]))
    assert response.status_code == 404


def test_a_missing_pdf_is_rendered_on_demand(assigned, client_as):
    # given: storing the PDF failed when the handover was made
    Handover.objects.filter(pk=assigned.handover.pk).update(pdf="")
    client = client_as("auditor")
    # when
    response = client.get(reverse("assets:handover_pdf", args=[assigned.handover.pk]))
    # then
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_nothing_is_stored_when_the_transaction_rolls_back(clerk, media_root):
    # given
    asset = AssetFactory()
    # when: the transition's transaction is rolled back (no commit, no callbacks run)
    with pytest.raises(RuntimeError), transaction.atomic():
        asset_transition(
            asset=asset, transition="assign", actor=clerk, data={"holder": PersonFactory()}
        )
        raise RuntimeError("rollback")
    # then
    assert Handover.objects.count() == 0
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_render_handover_is_a_pdf_without_assets_too(assigned):
    assert render_handover(assigned.handover, assets=[]).startswith(b"%PDF")
