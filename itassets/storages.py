"""File storage: S3 (MinIO) whose download links may name another address than the app uses.

In Docker Compose and Kubernetes the application reaches MinIO at an internal name
(``http://minio:9000``) that browsers cannot resolve, while the presigned download links it
redirects browsers to must work from their side. ``MINIO_PUBLIC_ENDPOINT`` (for example
``https://assets.example.cn``, where nginx passes ``/<bucket>/`` to MinIO with the Host header
unchanged) is the address the links are signed for; every other S3 call still goes to
``MINIO_ENDPOINT``. Signing needs no connection, so the public address is never contacted
from the server.
"""

from __future__ import annotations

import threading

from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class PublicUrlS3Storage(S3Storage):
    """``S3Storage`` with ``public_endpoint_url``: the endpoint presigned URLs are made for."""

    def get_default_settings(self):
        return {**super().get_default_settings(), "public_endpoint_url": ""}

    def __init__(self, **settings):
        super().__init__(**settings)
        self._public_clients = threading.local()

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_public_clients", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._public_clients = threading.local()

    def _public_client(self):
        client = getattr(self._public_clients, "client", None)
        if client is None:
            client = self._create_session().client(
                "s3",
                region_name=self.region_name,
                use_ssl=self.public_endpoint_url.startswith("https://"),
                endpoint_url=self.public_endpoint_url,
                config=self.client_config,
                verify=self.verify,
            )
            self._public_clients.client = client
        return client

    def url(self, name, parameters=None, expire=None, http_method=None):
        if not self.public_endpoint_url or not self.querystring_auth or self.custom_domain:
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        params = dict(parameters or {})
        params["Bucket"] = self.bucket_name
        params["Key"] = self._normalize_name(clean_name(name))
        return self._public_client().generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )
