"""gunicorn settings for itassets (``gunicorn -c deploy/gunicorn.conf.py itassets.wsgi``).

Every number comes from the environment so that compose, Kubernetes and the smoke test share
this one file:

- ``GUNICORN_BIND`` (``0.0.0.0:8000``), ``GUNICORN_WORKERS`` (2 × CPUs + 1, at most 8),
  ``GUNICORN_THREADS`` (4; gthread workers: requests that wait on MySQL/S3 share a process),
- ``GUNICORN_TIMEOUT`` (60 s): the longest request allowed. Printing 1,000 QR labels (the
  largest batch, LABEL_MAX_PER_REQUEST) takes about 5 s and an Excel import of a few thousand
  rows about as long, so 60 s leaves room on a slow machine while a stuck worker is still
  replaced within a minute. nginx's ``proxy_read_timeout`` is set a little above it.
- ``GUNICORN_GRACEFUL_TIMEOUT`` (30 s), ``GUNICORN_KEEPALIVE`` (5 s, behind nginx),
  ``GUNICORN_MAX_REQUESTS`` (10000, with 10 % jitter: workers are recycled to bound memory;
  at 1000 a worker of a busy server was replaced every few seconds, each time opening new
  database and Redis connections and answering its first requests slowly: in the stocktake
  benchmark, 2-3 recycles per 4,000 scans and about 6 % more CPU per scan),
  ``GUNICORN_ACCESSLOG`` (unset: off; nginx logs each request), ``GUNICORN_LOG_LEVEL``,
- ``GUNICORN_PRELOAD`` (true): import and warm the application in the master and fork the
  workers from it, so a recycled worker starts ready instead of importing Django again.

Prometheus: with ``PROMETHEUS_MULTIPROC_DIR`` set (the entrypoint sets it for the web role)
every worker writes its metrics to files there and ``/metrics`` adds up all workers. The
directory is emptied when the master starts and a dead worker's live gauges are dropped.
"""

import multiprocessing
import os
import shutil
from pathlib import Path


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 10000)
max_requests_jitter = max(1, max_requests // 10) if max_requests else 0
# The application is imported once, in the master, before the workers are forked (and warmed
# in when_ready below): a worker started later (max_requests, a crashed worker) is a fork of a
# ready process instead of a fresh interpreter importing Django, which on a 2-core server took
# 1-2 s of CPU and showed as a latency spike for everyone. Nothing opens a database, cache or
# broker connection at import time, so no connection is shared across the fork.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").strip().lower() not in ("0", "false", "no")
# Heartbeat files in memory, not on a (possibly read-only or slow) disk.
SHM = "/dev/shm"  # noqa: S108 (gunicorn's heartbeat files, not data)
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (SHM if os.path.isdir(SHM) else None)
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
capture_output = True
proc_name = "itassets"
# Requests come from nginx (or an ingress) on a private network; Django decides what to trust
# from X-Forwarded-* (PROXY_COUNT, SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190


def on_starting(server):
    """Empty the metrics directory: samples of an earlier run's pids must not be added up."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for child in path.iterdir():  # the directory itself may be a mount point
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()


# The preloaded application creates its metrics before on_starting runs: their directory must
# exist by then (on_starting still empties it of an earlier run's files before any worker).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def when_ready(server):
    """With the application preloaded: load what every worker would otherwise load on its
    first request (the URL patterns and the Chinese catalogue), so forks inherit it."""
    if not server.cfg.preload_app:
        return
    from django.urls import get_resolver
    from django.utils import translation

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    with translation.override("zh-hans"):  # activating it loads and keeps the catalogue
        pass


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
