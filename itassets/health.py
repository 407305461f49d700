"""Operations endpoints: /health (liveness), /ready (dependencies), /metrics (Prometheus)."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlparse

# Imported here, not inside the checks: /ready runs the cache and broker checks in parallel
# threads, and two threads importing redis for the first time at once deadlock on the import
# lock (seen on the first /ready of a fresh gunicorn worker, deploy/smoke.sh).
import redis
from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpResponseForbidden, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from .net import client_ip


@require_GET
@never_cache
def health(request):
    """Liveness: the process answers. No external calls."""
    return JsonResponse({"status": "ok"})


def check_database():
    conn = connections["default"]
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        conn.close()  # runs in a worker thread: never leave its connection open


def check_cache():
    cache = caches["default"]
    key = f"ready:{secrets.token_hex(4)}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def check_storage():
    backend = settings.STORAGES["default"]["BACKEND"]
    if backend.endswith("S3Storage"):
        from django.core.files.storage import default_storage

        default_storage.connection.meta.client.head_bucket(Bucket=default_storage.bucket_name)
    else:
        from pathlib import Path

        root = Path(settings.STORAGES["default"].get("OPTIONS", {}).get("location", ""))
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".ready-probe"
        probe.write_bytes(b"ok")
        probe.unlink()


def check_broker():
    url = settings.CELERY_BROKER_URL
    parsed = urlparse(url)
    if parsed.scheme in ("redis", "rediss"):
        # The caller's deadline (READY_CHECK_TIMEOUT) reports a hang; the socket timeouts only
        # make sure the abandoned thread ends soon after.
        timeout = settings.READY_CHECK_TIMEOUT * 2
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    else:
        host, port = parsed.hostname, parsed.port
        with socket.create_connection((host, port), timeout=settings.READY_CHECK_TIMEOUT):
            pass


def ready_checks() -> dict:
    checks = {"database": check_database, "cache": check_cache, "storage": check_storage}
    if not settings.CELERY_TASK_ALWAYS_EAGER and not settings.CELERY_BROKER_URL.startswith(
        "memory://"
    ):
        checks["broker"] = check_broker
    return checks


def run_checks(checks: dict, timeout: float) -> dict:
    results = {}
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="ready")
    started = {name: (pool.submit(fn), time.monotonic()) for name, fn in checks.items()}
    deadline = time.monotonic() + timeout
    for name, (future, t0) in started.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            results[name] = {"ok": True, "ms": round((time.monotonic() - t0) * 1000, 1)}
        except FutureTimeout:
            results[name] = {"ok": False, "error": f"timed out after {timeout}s"}
        except Exception as exc:  # any failure of a dependency is reported, not raised
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    pool.shutdown(wait=False, cancel_futures=True)
    return results


@require_GET
@never_cache
def ready(request):
    """Readiness: database, cache, storage and broker answer within a short timeout each."""
    results = run_checks(ready_checks(), settings.READY_CHECK_TIMEOUT)
    failed = sorted(name for name, r in results.items() if not r["ok"])
    body = {"status": "ok" if not failed else "unavailable", "checks": results}
    warnings = ready_warnings()
    if warnings:
        body["warnings"] = warnings
    if failed:
        body["failed"] = failed
        return JsonResponse(body, status=503)
    return JsonResponse(body)


def ready_warnings() -> list[str]:
    """Non-fatal findings, kept separate from readiness: the scheduler heartbeat (beat silent
    for more than 2 h, no worker for more than 10 min; see notifications.selectors)."""
    from notifications.selectors import scheduler_warnings

    try:
        return scheduler_warnings()
    except Exception as exc:  # a warning must never turn /ready into a 500
        return [f"scheduler heartbeat unknown: {type(exc).__name__}: {exc}"[:300]]


def _ip_allowed(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if addr in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


@require_GET
@never_cache
def metrics(request):
    """Prometheus text format, for allowed addresses or with ``Authorization: Bearer``."""
    token = settings.METRICS_TOKEN
    auth = request.headers.get("Authorization", "")
    token_ok = bool(token) and secrets.compare_digest(auth, f"Bearer {token}")
    if not (token_ok or _ip_allowed(client_ip(request))):
        return HttpResponseForbidden("forbidden\n", content_type="text/plain")
    return ExportToDjangoView(request)
