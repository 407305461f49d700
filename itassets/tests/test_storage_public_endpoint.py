"""MINIO_PUBLIC_ENDPOINT: presigned links signed for the address browsers use, while the
application itself talks to MinIO at its internal address (compose, Kubernetes).

A small reverse proxy on loopback stands in for nginx: it forwards ``/<bucket>/…`` to the weed
S3 server with the Host header unchanged, as deploy/nginx does.
"""

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from itassets.storages import PublicUrlS3Storage
from itassets.testing.fixtures import _settings_default_storage

pytestmark = pytest.mark.s3

CONTENT = "发票扫描件".encode() + bytes(range(256)) * 4


@pytest.fixture
def host_preserving_proxy(s3_server):
    upstream = s3_server.endpoint_url

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            request = urllib.request.Request(
                upstream + self.path, headers={"Host": self.headers["Host"]}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, headers, body = response.status, response.headers, response.read()
            except urllib.error.HTTPError as exc:
                status, headers, body = exc.code, exc.headers, exc.read()
            self.send_response(status)
            for name in ("Content-Type", "Content-Disposition"):
                if headers.get(name):
                    self.send_header(name, headers[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def public_storage(s3_server, settings, host_preserving_proxy):
    config = _settings_default_storage(
        {
            "MINIO_ENDPOINT": s3_server.endpoint_url,
            "MINIO_ACCESS_KEY": s3_server.access_key,
            "MINIO_SECRET_KEY": s3_server.secret_key,
            "MINIO_BUCKET": s3_server.bucket,
            "MINIO_PUBLIC_ENDPOINT": host_preserving_proxy + "/",
        }
    )
    settings.STORAGES = {**settings.STORAGES, "default": config}
    return config


def test_settings_choose_the_public_url_storage_only_when_asked(s3_server, public_storage):
    # when
    plain = _settings_default_storage(
        {
            "MINIO_ENDPOINT": s3_server.endpoint_url,
            "MINIO_ACCESS_KEY": s3_server.access_key,
            "MINIO_SECRET_KEY": s3_server.secret_key,
        }
    )

    # then
    assert plain["BACKEND"] == "storages.backends.s3.S3Storage"
    assert "public_endpoint_url" not in plain["OPTIONS"]
    assert public_storage["BACKEND"] == "itassets.storages.PublicUrlS3Storage"
    assert public_storage["OPTIONS"]["endpoint_url"] == s3_server.endpoint_url


def test_links_name_the_public_address_and_work_through_the_proxy(
    s3_server, public_storage, host_preserving_proxy
):
    # given: the application stores through the internal endpoint
    name = default_storage.save("attachments/test/invoice.pdf", ContentFile(CONTENT))

    # when
    url = default_storage.url(name, parameters={"ResponseContentType": "application/pdf"})
    with urllib.request.urlopen(url, timeout=10) as response:
        status, content_type, body = (
            response.status,
            response.headers["Content-Type"],
            response.read(),
        )

    # then
    assert isinstance(default_storage._wrapped, PublicUrlS3Storage)
    assert url.startswith(f"{host_preserving_proxy}/{s3_server.bucket}/attachments/test/")
    assert "X-Amz-Signature=" in url
    assert (status, content_type, body) == (200, "application/pdf", CONTENT)


def test_a_public_link_is_bound_to_the_public_host(s3_server, public_storage):
    # given
    name = default_storage.save("attachments/test/bound.bin", ContentFile(CONTENT))
    url = default_storage.url(name)

    # when: the same signed path and query sent straight to the internal endpoint
    parts = urlsplit(url)
    direct = f"{s3_server.endpoint_url}{parts.path}?{parts.query}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(direct, timeout=10)

    # then
    assert refused.value.code == 403
    assert b"SignatureDoesNotMatch" in refused.value.read()
