"""The HTTP half of deploy/smoke.sh: a user's and an operator's requests through nginx.

Standard library only for HTTP (urllib, a cookie jar, the CSRF token from the forms), with
the smoke run's certificate as the only trusted CA. boto3 looks into the bucket directly.
Configuration comes from the environment smoke.sh exports (SMOKE_*). Prints one line per
check; exits 1 at the first failure.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HTTPS = os.environ["SMOKE_HTTPS"]  # https://127.0.0.1:<port>
HTTP = os.environ["SMOKE_HTTP"]  # http://127.0.0.1:<port>
CA_FILE = os.environ["SMOKE_CA_FILE"]
USERNAME = os.environ["ADMIN_USERNAME"]
PASSWORD = os.environ["ADMIN_PASSWORD"]
MODEL_ID = os.environ["SMOKE_MODEL_ID"]
METRICS_TOKEN = os.environ["METRICS_TOKEN"]
BUCKET = os.environ["MINIO_BUCKET"]
WEBHOOK_LOG = os.environ["SMOKE_WEBHOOK_LOG"]
PYTHON = os.environ.get("PYTHON", sys.executable)

TLS = ssl.create_default_context(cafile=CA_FILE)
JAR = http.cookiejar.CookieJar()
PASSED: list[str] = []


class Failed(Exception):
    pass


def check(condition: bool, what: str, detail: object = "") -> None:
    if not condition:
        raise Failed(f"{what}: {detail}"[:2000])


def ok(what: str) -> None:
    PASSED.append(what)
    print(f"  ok  {what}", flush=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(
    urllib.request.HTTPSHandler(context=TLS),
    urllib.request.HTTPCookieProcessor(JAR),
    NoRedirect(),
)


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def all(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


def request(method: str, url: str, *, data: bytes | None = None, headers=None) -> Response:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    try:
        with OPENER.open(req, timeout=30) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.headers, exc.read())


def get(path: str, **kwargs) -> Response:
    url = path if "://" in path else HTTPS + path
    return request("GET", url, **kwargs)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    check(match is not None, "CSRF token in the form", html[:300])
    return match.group(1)


def post_form(path: str, fields: dict, token: str) -> Response:
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
    return request(
        "POST",
        HTTPS + path,
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": HTTPS + path,
            "Origin": HTTPS,
        },
    )


def post_multipart(path: str, fields: dict, files: dict, token: str) -> Response:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in {"csrfmiddlewaretoken": token, **fields}.items():
        disposition = f'Content-Disposition: form-data; name="{name}"'
        parts.append(f"--{boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode())
    for name, (filename, content_type, data) in files.items():
        header = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts.append(header.encode("utf-8") + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return request(
        "POST",
        HTTPS + path,
        data=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Referer": HTTPS + path,
            "Origin": HTTPS,
        },
    )


def jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((800, 600), 50).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def s3_client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=os.environ["MINIO_ENDPOINT"],
        aws_access_key_id=os.environ["MINIO_ACCESS_KEY"],
        aws_secret_access_key=os.environ["MINIO_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def manage(*args: str) -> subprocess.CompletedProcess:
    command = [PYTHON, "manage.py", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)  # noqa: S603


# --- the checks -----------------------------------------------------------------------------


def operations_endpoints() -> None:
    r = get(HTTP + "/health")
    check(r.status == 200 and json.loads(r.body) == {"status": "ok"}, "http /health", r.status)
    r = get(HTTP + "/accounts/login/")
    check(r.status == 301, "http → https redirect status", r.status)
    check(
        r.headers["Location"] == HTTPS + "/accounts/login/",
        "http → https redirect target",
        r.headers["Location"],
    )
    ok("plain HTTP: /health answers, everything else is redirected to HTTPS")

    r = get("/health")
    check(r.status == 200 and json.loads(r.body) == {"status": "ok"}, "/health", r.text)
    r = get("/ready")
    body = json.loads(r.body)
    check(r.status == 200, "/ready", r.text)
    check(
        set(body["checks"]) == {"database", "cache", "storage", "broker"}
        and all(c["ok"] for c in body["checks"].values()),
        "/ready checks",
        body,
    )
    ok("/health 200, /ready 200 (database, cache, S3 storage, broker)")
    r = get("/nginx-health")
    check(r.status == 200 and r.text == "ok\n", "/nginx-health", r.status)


def security_headers(r: Response) -> None:
    expected = {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    for name, value in expected.items():
        check(r.all(name) == [value], f"header {name}", r.all(name))
    check("frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", ""), "CSP", "")
    check("microphone=()" in r.headers.get("Permissions-Policy", ""), "Permissions-Policy", "")
    check(
        r.headers.get("Server") == "nginx", "Server header without a version", r.headers["Server"]
    )
    ok("security headers: HSTS, X-Frame-Options, nosniff, Referrer-Policy, COOP, CSP, no version")


def static_file(html: str) -> None:
    match = re.search(r'(/static/[^"\']+\.[0-9a-f]{12}\.css)', html)
    check(match is not None, "a hashed stylesheet on the login page", html[:500])
    r = get(match.group(1), headers={"Accept-Encoding": "gzip"})
    check(r.status == 200, "static file", r.status)
    cache = r.headers.get("Cache-Control", "")
    check("max-age=315360000" in cache and "immutable" in cache, "long cache header", cache)
    check(r.headers.get("Content-Encoding") == "gzip", "precompressed gzip", dict(r.headers))
    ok(f"static {match.group(1)}: Cache-Control {cache}, gzip")


def login() -> None:
    page = get("/accounts/login/")
    check(page.status == 200, "login page", page.status)
    security_headers(page)
    static_file(page.text)
    r = post_form(
        "/accounts/login/",
        {"username": USERNAME, "password": PASSWORD},
        csrf_token(page.text),
    )
    check(r.status == 302 and r.headers["Location"] == "/", "login redirect", (r.status, r.text))
    cookies = {c.name: c for c in JAR}
    check("sessionid" in cookies and cookies["sessionid"].secure, "secure session cookie", cookies)
    check(get("/").status == 200, "home page after login", "")
    ok(f"logged in as {USERNAME} (CSRF token from the form, Secure session cookie)")


def create_asset() -> str:
    page = get("/assets/new/")
    check(page.status == 200, "asset form", page.status)
    r = post_form(
        "/assets/new/",
        {
            "model": MODEL_ID,
            "name": "冒烟测试笔记本",
            "serial_number": f"SMOKE-{uuid.uuid4().hex[:8]}",
            "purchase_date": "2026-01-15",
            "cost": "6999.00",
        },
        csrf_token(page.text),
    )
    check(r.status == 302, "asset created (redirect)", (r.status, r.text[-1500:]))
    match = re.fullmatch(r"/assets/([^/]+)/", r.headers["Location"])
    check(match is not None, "redirect to the asset", r.headers["Location"])
    tag = urllib.parse.unquote(match.group(1))
    ok(f"asset {tag} created through the form")
    return tag


def upload_and_download(tag: str) -> None:
    detail_path = f"/assets/{urllib.parse.quote(tag)}/"
    page = get(detail_path)
    check(page.status == 200, "asset page", page.status)
    data = jpeg()
    r = post_multipart(
        f"{detail_path}attachments/",
        {"kind": "photo"},
        {"file": ("机房照片.jpg", "image/jpeg", data)},
        csrf_token(page.text),
    )
    check(r.status == 302, "photo upload", (r.status, r.text[-1500:]))

    client = s3_client()
    objects = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    stored = [o for o in objects if o["Size"] == len(data)]
    check(len(objects) == 2 and len(stored) == 1, "photo and thumbnail in the bucket", objects)
    body = client.get_object(Bucket=BUCKET, Key=stored[0]["Key"])["Body"].read()
    check(body == data, "the bucket holds the uploaded bytes", len(body))
    ok(f"photo uploaded ({len(data)} bytes): in bucket {BUCKET} with its thumbnail")

    page = get(detail_path)
    match = re.search(rf"{re.escape(detail_path)}attachments/(\d+)/\"", page.text)
    check(match is not None, "download link on the asset page", "")
    r = get(f"{detail_path}attachments/{match.group(1)}/")
    location = r.headers.get("Location", "")
    check(r.status == 302, "download redirect", r.status)
    check(
        location.startswith(f"{HTTPS}/{BUCKET}/"), "presigned link on the public endpoint", location
    )
    check("X-Amz-Signature=" in location, "signed link", location)
    check("no-store" in r.headers.get("Cache-Control", ""), "redirect not cached", "")
    download = get(location)
    check(
        download.status == 200 and download.body == data, "download through nginx", download.status
    )
    check(download.headers.get("Content-Type") == "image/jpeg", "content type", "")
    unsigned = get(location.split("?", 1)[0])
    check(unsigned.status == 403, "unsigned link refused", unsigned.status)
    ok("presigned download through nginx returns the same bytes; unsigned is refused")

    big = post_multipart(
        f"{detail_path}attachments/",
        {"kind": "photo"},
        {"file": ("big.jpg", "image/jpeg", b"\xff" * (22 * 1024 * 1024))},
        csrf_token(page.text),
    )
    check(big.status == 413, "22 MB upload refused by nginx", big.status)
    ok("an upload above client_max_body_size is refused with 413")


def metrics() -> None:
    r = get("/metrics")
    check(r.status == 403, "/metrics without token", r.status)
    r = get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    check(r.status == 200, "/metrics with token", r.status)
    counts = re.findall(
        r'^django_http_requests_total_by_method_total\{method="GET"\} (\S+)$', r.text, re.M
    )
    check(counts and float(counts[0]) >= 5, "request counter over all workers", counts)
    ok(f"/metrics: 403 without token, 200 with it; GET requests counted: {counts[0]}")


def rate_limit() -> None:
    statuses = [
        request(
            "POST",
            HTTPS + "/accounts/login/",
            data=b"username=x&password=y",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status
        for _ in range(12)
    ]
    check(429 in statuses, "login POSTs rate-limited", statuses)
    ok(f"login POSTs are rate-limited by nginx: {statuses.count(429)} of 12 answered 429")


def worker_and_notification() -> None:
    r = manage(
        "shell",
        "--no-imports",
        "-c",
        "from itassets.tasks import ping_database\n"
        "print(ping_database.delay().get(timeout=30)['database'])",
    )
    check(
        r.returncode == 0 and r.stdout.strip().endswith(os.environ["SMOKE_DATABASE"]),
        "task run by the Celery worker",
        r.stdout + r.stderr,
    )
    ok("the Celery worker ran a task on the smoke database")

    r = manage("send_test_notification", "--channel", "webhook", "--to", USERNAME)
    check(r.returncode == 0, "send_test_notification --channel webhook", r.stdout + r.stderr)
    deadline = time.monotonic() + 10
    received = []
    while time.monotonic() < deadline and not received:
        try:
            with open(WEBHOOK_LOG) as handle:
                received = [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            pass
        time.sleep(0.2)
    check(len(received) == 1, "webhook received one POST", received)
    ok(f"the local webhook server received the notification ({received[0]['bytes']} bytes)")


def main() -> int:
    steps = [operations_endpoints, login]
    try:
        for step in steps:
            step()
        tag = create_asset()
        upload_and_download(tag)
        metrics()
        rate_limit()
        worker_and_notification()
    except Failed as exc:
        print(f"FAILED  {exc}", flush=True)
        return 1
    print(f"smoke: {len(PASSED)} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
