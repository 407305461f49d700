"""Uploaded files on S3 (a local weed server): private bucket, presigned URLs, keys enforced."""

import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from storages.backends.s3 import S3Storage

pytestmark = pytest.mark.s3

CONTENT = "资产照片 IT-2026-000001\n".encode() + bytes(range(256))


def test_file_saved_through_default_storage_is_readable_by_its_presigned_url(s3_storage):
    # given
    name = default_storage.save("attachments/test/photo.bin", ContentFile(CONTENT))

    # when
    url = default_storage.url(name)
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()

    # then
    assert isinstance(default_storage, S3Storage)
    assert url.startswith(f"{s3_storage.endpoint_url}/{s3_storage.bucket}/attachments/test/")
    assert "X-Amz-Signature=" in url
    assert body == CONTENT
    stored = s3_storage.client().get_object(Bucket=s3_storage.bucket, Key=name)
    assert stored["Body"].read() == CONTENT


def test_saving_the_same_name_twice_keeps_both_files(s3_storage):
    # given
    first = default_storage.save("attachments/test/same.txt", ContentFile(b"first"))

    # when
    second = default_storage.save("attachments/test/same.txt", ContentFile(b"second"))

    # then
    assert first != second
    assert default_storage.open(first).read() == b"first"
    assert default_storage.open(second).read() == b"second"


def test_unsigned_request_for_an_object_is_refused(s3_storage):
    # given
    name = default_storage.save("attachments/test/private.txt", ContentFile(b"secret"))

    # when
    url = f"{s3_storage.endpoint_url}/{s3_storage.bucket}/{name}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)

    # then
    assert refused.value.code == 403
    assert b"AccessDenied" in refused.value.read()


def test_client_with_a_wrong_secret_key_is_refused(s3_storage):
    # given
    name = default_storage.save("attachments/test/keys.txt", ContentFile(b"keys"))
    intruder = s3_storage.client(secret_key="not-the-secret-key")

    # when
    with pytest.raises(ClientError) as refused:
        intruder.get_object(Bucket=s3_storage.bucket, Key=name)

    # then
    assert refused.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "AccessDenied")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_default_storage_is_local_again_after_an_s3_test():
    # then (runs after the tests above; the settings fixture restored STORAGES)
    assert isinstance(default_storage, FileSystemStorage)
