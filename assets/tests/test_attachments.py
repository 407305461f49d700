"""Attachments: upload checks (size, type by content), private storage on S3, presigned
downloads only after the asset's visibility is checked; local-file fallback for embedded mode."""

import io
import urllib.error
import urllib.request
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from PIL import Image

from assets import services
from assets.models import Attachment

from .factories import AssetFactory, AttachmentFactory, PersonFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56 + b"\x90" * 2000
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 2000
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def jpeg_bytes(size=(640, 480), noise=False) -> bytes:
    img = Image.effect_noise(size, 80).convert("RGB") if noise else Image.new("RGB", size, "teal")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(client, asset, name, data, content_type="image/jpeg", kind="photo", **extra):
    return client.post(
        reverse("assets:attachment_upload", args=[asset.tag]),
        {"file": SimpleUploadedFile(name, data, content_type), "kind": kind},
        **extra,
    )


def expected_error(name: str, data: bytes) -> list[str]:
    """What the service says about this upload, as a zh-hans user reads it."""
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        services.attachment_validate(SimpleUploadedFile(name, data))
    return exc.value.messages


def bucket_keys(s3) -> set[str]:
    listing = s3.client().list_objects_v2(Bucket=s3.bucket)
    return {obj["Key"] for obj in listing.get("Contents", [])}


def fetch(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture
def local_storage(settings, tmp_path):
    """Embedded mode: files on the local disk (in a temporary directory for the test)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/media/"},
        },
    }
    return tmp_path


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()]


# --- S3: the real thing -------------------------------------------------------------------


@pytest.mark.s3
def test_jpeg_upload_lands_in_the_bucket_with_a_thumbnail_and_downloads_by_presigned_url(
    s3_storage, client_as
):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    data = jpeg_bytes()
    # when
    response = upload(client, asset, "机房照片.jpg", data)
    # then: stored
    attachment = Attachment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("assets:detail", args=[asset.tag])
    assert attachment.asset == asset
    assert attachment.original_name == "机房照片.jpg"
    assert attachment.content_type == "image/jpeg"
    assert attachment.size == len(data)
    assert attachment.uploaded_by == client.user
    s3 = s3_storage.client()
    head = s3.head_object(Bucket=s3_storage.bucket, Key=attachment.file.name)
    assert head["ContentLength"] == len(data)
    assert attachment.thumbnail.name
    thumb_head = s3.head_object(Bucket=s3_storage.bucket, Key=attachment.thumbnail.name)
    assert thumb_head["ContentLength"] > 0

    # when: downloading through the view
    download = client.get(reverse("assets:attachment", args=[asset.tag, attachment.pk]))
    # then: a short-lived presigned URL that returns the exact bytes
    assert download.status_code == 302
    assert "no-store" in download["Cache-Control"]
    location = download["Location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{s3_storage.endpoint_url}/{s3_storage.bucket}/")
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["image/jpeg"]
    status, headers, body = fetch(location)
    assert status == 200
    assert body == data
    assert headers["Content-Type"] == "image/jpeg"

    # and the thumbnail
    thumb = client.get(reverse("assets:attachment_thumb", args=[asset.tag, attachment.pk]))
    assert thumb.status_code == 302
    status, _headers, thumb_body = fetch(thumb["Location"])
    assert status == 200
    with Image.open(io.BytesIO(thumb_body)) as img:
        assert img.format == "JPEG"
        assert max(img.size) <= 320


@pytest.mark.s3
def test_the_bucket_refuses_an_unsigned_url(s3_storage, client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    upload(client, asset, "photo.jpg", jpeg_bytes())
    attachment = Attachment.objects.get()
    unsigned = f"{s3_storage.endpoint_url}/{s3_storage.bucket}/{attachment.file.name}"
    # when
    with pytest.raises(urllib.error.HTTPError) as exc:
        fetch(unsigned)
    # then
    assert exc.value.code == 403


@pytest.mark.s3
def test_pdf_download_is_an_attachment_with_its_chinese_file_name(s3_storage, client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    upload(client, asset, "采购发票.pdf", PDF, content_type="application/pdf", kind="invoice")
    attachment = Attachment.objects.get()
    # when
    download = client.get(reverse("assets:attachment", args=[asset.tag, attachment.pk]))
    status, headers, body = fetch(download["Location"])
    # then
    assert attachment.kind == "invoice"
    assert not attachment.thumbnail
    assert status == 200
    assert body == PDF
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == f"attachment; filename*=utf-8''{quote('采购发票.pdf')}"


@pytest.mark.s3
def test_presigned_url_lifetime_comes_from_settings(s3_storage, client_as, settings):
    # given
    settings.MINIO_URL_EXPIRE_SECONDS = 60
    client = client_as("clerk")
    asset = AssetFactory()
    upload(client, asset, "photo.jpg", jpeg_bytes())
    attachment = Attachment.objects.get()
    # when
    download = client.get(reverse("assets:attachment", args=[asset.tag, attachment.pk]))
    # then
    assert parse_qs(urlsplit(download["Location"]).query)["X-Amz-Expires"] == ["60"]


@pytest.mark.s3
def test_oversized_upload_is_rejected_next_to_the_field_and_nothing_stored(
    s3_storage, client_as, settings
):
    # given
    settings.UPLOAD_MAX_BYTES = 10_000
    client = client_as("clerk")
    asset = AssetFactory()
    data = jpeg_bytes(noise=True)
    assert len(data) > 10_000
    before = bucket_keys(s3_storage)
    # when
    response = upload(client, asset, "big.jpg", data)
    # then
    errors = response.context["upload_form"].errors["file"]
    assert response.status_code == 200
    assert errors == expected_error("big.jpg", data)
    assert errors[0] in response.content.decode()
    assert Attachment.objects.count() == 0
    assert bucket_keys(s3_storage) == before


@pytest.mark.s3
@pytest.mark.parametrize("payload", [ELF, PE], ids=["elf", "pe"])
def test_executable_disguised_as_jpeg_is_rejected_and_nothing_stored(
    s3_storage, client_as, payload
):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    before = bucket_keys(s3_storage)
    # when
    response = upload(client, asset, "photo.jpg", payload, content_type="image/jpeg")
    # then
    errors = response.context["upload_form"].errors["file"]
    assert response.status_code == 200
    assert errors == expected_error("photo.jpg", payload)
    assert errors[0] in response.content.decode()
    assert Attachment.objects.count() == 0
    assert bucket_keys(s3_storage) == before


@pytest.mark.s3
def test_unknown_file_type_is_rejected_and_nothing_stored(s3_storage, client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    before = bucket_keys(s3_storage)
    # when
    response = upload(client, asset, "说明.txt", "纯文本".encode(), content_type="text/plain")
    # then
    assert response.context["upload_form"].errors["file"] == expected_error(
        "说明.txt", "纯文本".encode()
    )
    assert Attachment.objects.count() == 0
    assert bucket_keys(s3_storage) == before


@pytest.mark.s3
def test_htmx_upload_returns_the_attachments_fragment(s3_storage, client_as):
    # given
    client = client_as("clerk")
    asset = AssetFactory()
    # when
    response = upload(client, asset, "photo.jpg", jpeg_bytes(), **HTMX)
    # then
    attachment = Attachment.objects.get()
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "attachmentsChanged"
    assert body.lstrip().startswith('<section id="attachments"')
    assert "<html" not in body
    assert reverse("assets:attachment_thumb", args=[asset.tag, attachment.pk]) in body


@pytest.mark.s3
def test_htmx_upload_error_returns_the_fragment_with_the_error(s3_storage, client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    response = upload(client, asset, "photo.jpg", ELF, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="attachments"')
    assert expected_error("photo.jpg", ELF)[0] in body
    assert "is-invalid" in body
    assert Attachment.objects.count() == 0


# --- authorization (local storage: no S3 needed to prove a refusal) -------------------------


@pytest.mark.parametrize("role", ["auditor", "employee", "dept_head", None])
def test_upload_is_forbidden_without_permission_and_nothing_stored(local_storage, client_as, role):
    # given: even on an asset the user may see
    client = client_as(role)
    asset = AssetFactory(holder=PersonFactory(user=client.user))
    # when
    response = upload(client, asset, "photo.jpg", jpeg_bytes())
    # then
    assert response.status_code == 403
    assert Attachment.objects.count() == 0
    assert stored_files(local_storage) == []


def test_upload_url_accepts_only_post(client_as):
    asset = AssetFactory()
    response = client_as("clerk").get(reverse("assets:attachment_upload", args=[asset.tag]))
    assert response.status_code == 405


def test_download_checks_that_the_user_may_see_the_asset(local_storage, client_as):
    # given
    client = client_as("employee")
    me = PersonFactory(user=client.user)
    mine = AttachmentFactory(asset__holder=me)
    theirs = AttachmentFactory(asset__holder=PersonFactory())
    # when
    own = client.get(reverse("assets:attachment", args=[mine.asset.tag, mine.pk]))
    other = client.get(reverse("assets:attachment", args=[theirs.asset.tag, theirs.pk]))
    other_thumb = client.get(reverse("assets:attachment_thumb", args=[theirs.asset.tag, theirs.pk]))
    # an attachment id guessed under one's own tag
    crossed = client.get(reverse("assets:attachment", args=[mine.asset.tag, theirs.pk]))
    # then
    assert own.status_code == 200
    assert other.status_code == 404
    assert other_thumb.status_code == 404
    assert crossed.status_code == 404


def test_auditor_may_download(local_storage, client_as):
    attachment = AttachmentFactory()
    client = client_as("auditor")
    response = client.get(reverse("assets:attachment", args=[attachment.asset.tag, attachment.pk]))
    assert response.status_code == 200


def test_local_storage_streams_the_file_with_an_rfc5987_file_name(local_storage, client_as):
    # given: embedded mode (make run) has no S3; the view streams the file itself
    client = client_as("clerk")
    asset = AssetFactory()
    upload(client, asset, "保修卡.pdf", PDF, content_type="application/pdf", kind="warranty")
    attachment = Attachment.objects.get()
    # when
    response = client.get(reverse("assets:attachment", args=[asset.tag, attachment.pk]))
    # then
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{quote('保修卡.pdf')}"
    assert "no-store" in response["Cache-Control"]


def test_local_storage_images_are_inline_and_have_thumbnails(local_storage, client_as):
    client = client_as("clerk")
    asset = AssetFactory()
    data = jpeg_bytes()
    upload(client, asset, "photo.jpg", data)
    attachment = Attachment.objects.get()
    full = client.get(reverse("assets:attachment", args=[asset.tag, attachment.pk]))
    thumb = client.get(reverse("assets:attachment_thumb", args=[asset.tag, attachment.pk]))
    assert b"".join(full.streaming_content) == data
    assert full["Content-Disposition"] == 'inline; filename="photo.jpg"'
    assert thumb.status_code == 200
    assert thumb["Content-Type"] == "image/jpeg"


def test_files_are_not_reachable_under_media_url(local_storage, client_as):
    # given
    client = client_as("clerk")
    attachment = AttachmentFactory()
    assert (local_storage / attachment.file.name).exists()
    # when
    response = client.get(f"/media/{attachment.file.name}")
    # then
    assert response.status_code == 404


def test_thumbnail_of_a_document_is_404(local_storage, client_as):
    attachment = AttachmentFactory(content_type="application/pdf", original_name="a.pdf")
    response = client_as("clerk").get(
        reverse("assets:attachment_thumb", args=[attachment.asset.tag, attachment.pk])
    )
    assert response.status_code == 404
