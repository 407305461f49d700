"""deploy/backup.sh and deploy/restore.sh, for real: MariaDB databases of their own, buckets on
the local S3 server (weed), the scripts run as an operator runs them.

The round trip: a migrated database with demo data and uploaded files (photos with their
thumbnails, a PDF) → backup.sh → restore.sh into a fresh database and a fresh bucket → every
table has the same rows (COUNT and CHECKSUM TABLE) and every object the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

import MySQLdb
import pytest
from django.conf import settings

pytestmark = pytest.mark.s3

BASE_DIR = Path(settings.BASE_DIR)
BACKUP = BASE_DIR / "deploy" / "backup.sh"
RESTORE = BASE_DIR / "deploy" / "restore.sh"

SEED = r"""
import io
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from assets import services
from assets.models import AssetModel, Category, Manufacturer

clerk = get_user_model().objects.get(username="clerk")
category = Category.add_root(code="BK-PC", name="计算机设备")
maker = Manufacturer.objects.create(name="联想（备份测试）")  # seed_demo has 联想 already
model = AssetModel.objects.create(
    category=category, manufacturer=maker, name="ThinkPad X1", model_number="21KC"
)


def jpeg(colour):
    out = io.BytesIO()
    Image.effect_noise((640, 480), 60).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


for i, colour in enumerate(["teal", "orange", "navy"]):
    asset = services.asset_create(
        actor=clerk,
        model=model,
        data={"name": f"笔记本{i}", "serial_number": f"SN-BK-{i}", "cost": Decimal("6999.00")},
    )
    services.attachment_add(
        actor=clerk,
        asset=asset,
        upload=SimpleUploadedFile(f"机房照片{i}.jpg", jpeg(colour), "image/jpeg"),
    )
pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
services.attachment_add(
    actor=clerk,
    asset=asset,
    upload=SimpleUploadedFile("发票.pdf", pdf, "application/pdf"),
    kind="invoice",
)
"""


# --- helpers --------------------------------------------------------------------------------


def _server_url() -> SplitResult:
    return urlsplit(os.environ["DATABASE_URL"])


def database_url(name: str, *, password: str | None = None) -> str:
    url = _server_url()
    netloc = url.netloc
    if password is not None:
        user = url.username or "root"
        netloc = f"{user}:{password}@{url.hostname}:{url.port or 3306}"
    return urlunsplit((url.scheme, netloc, f"/{name}", "", ""))


def connect(name: str | None = None):
    url = _server_url()
    kwargs = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "passwd": url.password or "",
        "charset": "utf8mb4",
    }
    if name:
        kwargs["db"] = name
    return MySQLdb.connect(**kwargs)


def sql(query: str, name: str | None = None) -> list[tuple]:
    conn = connect(name)
    try:
        cursor = conn.cursor()
        cursor.execute(query)
        rows = list(cursor.fetchall())
        conn.commit()
        return rows
    finally:
        conn.close()


def app_env(db_name: str, bucket: str, s3, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(db_name),
        "MINIO_ENDPOINT": s3.endpoint_url,
        "MINIO_ACCESS_KEY": s3.access_key,
        "MINIO_SECRET_KEY": s3.secret_key,
        "MINIO_BUCKET": bucket,
        "MINIO_SECURE": "false",
        "ENV_FILE": str(BASE_DIR / "var" / "no-such-env-file"),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "PYTHON": sys.executable,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def run(command: list, env: dict, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in command],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    result = run([sys.executable, "manage.py", *args], env)
    assert result.returncode == 0, f"manage.py {args[0]}:\n{result.stdout}\n{result.stderr}"
    return result


def table_fingerprints(name: str) -> dict[str, tuple[int, int]]:
    """table → (row count, CHECKSUM TABLE) for every base table of database ``name``."""
    tables = [
        row[0]
        for row in sql(
            "SELECT TABLE_NAME FROM information_schema.TABLES "
            f"WHERE TABLE_SCHEMA = '{name}' AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        )
    ]
    result = {}
    for table in tables:
        count = sql(f"SELECT COUNT(*) FROM `{table}`", name)[0][0]
        checksum = sql(f"CHECKSUM TABLE `{table}`", name)[0][1]
        result[table] = (count, checksum)
    return result


def bucket_contents(s3, bucket: str) -> dict[str, bytes]:
    client = s3.client()
    keys = [
        obj["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for obj in page.get("Contents", [])
    ]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def backups_in(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


class Databases:
    """Databases created for this module, dropped at its end."""

    def __init__(self):
        self.token = uuid.uuid4().hex[:8]
        self.names: list[str] = []

    def new(self, role: str, *, create: bool = True) -> str:
        name = f"itassets_bk_{role}_{self.token}"
        self.names.append(name)
        if create:
            sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return name

    def drop_all(self):
        for name in self.names:
            sql(f"DROP DATABASE IF EXISTS `{name}`")


CREATED_BUCKETS: list[str] = []


def new_bucket(s3, role: str) -> str:
    """A new bucket, deleted with its objects at the end of the module. (weed gives every
    bucket written to volumes of its own, out of 16 for the whole session: at most two of this
    module's buckets ever hold objects, and they are deleted before other tests need space.)"""
    name = f"bk-{role}-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=name)
    CREATED_BUCKETS.append(name)
    return name


def delete_buckets(s3) -> None:
    client = s3.client()
    while CREATED_BUCKETS:
        bucket = CREATED_BUCKETS.pop()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def databases(s3_server):
    dbs = Databases()
    try:
        yield dbs
    finally:
        dbs.drop_all()
        delete_buckets(s3_server)


@pytest.fixture(scope="module")
def source(s3_server, databases):
    """A migrated source database with demo data, three photos and a PDF in its own bucket."""
    db = databases.new("src")
    bucket = new_bucket(s3_server, "src")
    env = app_env(db, bucket, s3_server)
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", "--people", "12", env=env)
    manage("shell", "--no-imports", "-c", SEED, env=env)
    return {"db": db, "bucket": bucket, "env": env}


@pytest.fixture(scope="module")
def backup(source, tmp_path_factory):
    """One backup of ``source`` made by deploy/backup.sh."""
    root = tmp_path_factory.mktemp("backups")
    result = run(["bash", BACKUP, root], source["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    path = Path(result.stdout.strip().splitlines()[-1])
    return {"root": root, "path": path, "result": result}


# --- tests ----------------------------------------------------------------------------------


def test_backup_writes_dump_files_manifest_and_checksums(source, backup, s3_server):
    # then
    path = backup["path"]
    assert backups_in(backup["root"]) == [path.name]
    assert path.name.startswith("itassets-")
    assert sorted(p.name for p in path.iterdir()) == [
        "SHA256SUMS",
        "db.sql.gz",
        "files",
        "migrations.txt",
    ]
    check = subprocess.run(["sha256sum", "--check", "SHA256SUMS"], cwd=path, capture_output=True)
    assert check.returncode == 0, check.stdout
    manifest = json.loads((path / "files" / "manifest.json").read_text())
    in_bucket = bucket_contents(s3_server, source["bucket"])
    assert manifest["count"] == len(in_bucket) == 7  # 3 photos + 3 thumbnails + 1 PDF
    assert {o["key"]: o["size"] for o in manifest["objects"]} == {
        k: len(v) for k, v in in_bucket.items()
    }
    for obj in manifest["objects"]:
        assert (path / "files" / "objects" / obj["key"]).read_bytes() == in_bucket[obj["key"]]
    assert {o["content_type"] for o in manifest["objects"]} == {"image/jpeg", "application/pdf"}


def test_round_trip_restores_every_row_and_every_file(source, backup, s3_server, databases):
    # given: an empty database (not even created) and an empty bucket
    target_db = databases.new("dst", create=False)
    target_bucket = new_bucket(s3_server, "dst")
    env = app_env(target_db, target_bucket, s3_server)

    # when
    result = run(["bash", RESTORE, backup["path"]], env)

    # then: every table, row for row
    assert result.returncode == 0, result.stdout + result.stderr
    expected = table_fingerprints(source["db"])
    restored = table_fingerprints(target_db)
    assert len(expected) > 30
    assert restored == expected
    assert expected["assets_attachment"][0] == 4
    assert expected["auth_user"][0] == 6

    # and every file, byte for byte
    original = bucket_contents(s3_server, source["bucket"])
    assert len(original) == 7
    assert bucket_contents(s3_server, target_bucket) == original

    # and the restored rows point at the restored objects
    names = sql("SELECT file, thumbnail FROM assets_attachment", target_db)
    referenced = {n for row in names for n in row if n}
    assert referenced == set(original)

    # and the application reads them through its own storage
    check = manage(
        "shell",
        "--no-imports",
        "-c",
        "from assets.models import Attachment\n"
        "print(sum(len(a.file.read()) for a in Attachment.objects.all()))",
        env=env,
    )
    assert int(check.stdout.strip()) == sum(len(original[row[0]]) for row in names)


def test_restore_refuses_a_database_that_has_tables(source, backup, s3_server):
    # given: the source itself, with a new empty bucket
    bucket = new_bucket(s3_server, "busy")
    env = app_env(source["db"], bucket, s3_server)
    before = table_fingerprints(source["db"])

    # when
    result = run(["bash", RESTORE, backup["path"]], env)

    # then
    assert result.returncode != 0
    assert f"database {source['db']} already has" in result.stderr
    assert table_fingerprints(source["db"]) == before
    assert bucket_contents(s3_server, bucket) == {}


def test_restore_refuses_a_bucket_that_has_objects_and_changes_nothing(
    source, backup, s3_server, databases
):
    # given: an empty database, and the source's bucket, which holds objects
    target_db = databases.new("nonempty")
    bucket = source["bucket"]
    before = bucket_contents(s3_server, bucket)
    env = app_env(target_db, bucket, s3_server)

    # when
    result = run(["bash", RESTORE, backup["path"]], env)

    # then
    assert result.returncode != 0
    assert "is not empty: restore into an empty bucket" in result.stderr
    assert sql(
        f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='{target_db}'"
    ) == [(0,)]
    assert bucket_contents(s3_server, bucket) == before


def test_restore_refuses_a_tampered_file_before_writing_anything(
    backup, s3_server, databases, tmp_path
):
    # given: a copy of the backup with one byte of one photo changed
    copy = tmp_path / backup["path"].name
    shutil.copytree(backup["path"], copy)
    photo = next(p for p in (copy / "files" / "objects").rglob("*.jpg"))
    data = bytearray(photo.read_bytes())
    data[-10] ^= 0xFF
    photo.write_bytes(bytes(data))
    target_db = databases.new("tampered")
    bucket = new_bucket(s3_server, "tampered")

    # when
    result = run(["bash", RESTORE, copy], app_env(target_db, bucket, s3_server))

    # then
    assert result.returncode != 0
    assert "SHA-256 differs from the manifest" in result.stderr
    assert sql(
        f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='{target_db}'"
    ) == [(0,)]
    assert bucket_contents(s3_server, bucket) == {}


def test_backup_fails_and_leaves_nothing_when_the_database_refuses(s3_server, tmp_path):
    # given: a wrong password
    env = app_env("itassets", "unused", s3_server)
    env["DATABASE_URL"] = database_url("itassets", password="wrong-password")

    # when
    result = run(["bash", BACKUP, tmp_path], env)

    # then
    assert result.returncode != 0
    assert "backup.sh: FAILED" in result.stderr
    assert backups_in(tmp_path) == []


def test_backup_fails_on_a_suspiciously_small_dump(source, s3_server, tmp_path):
    # given
    env = {**source["env"], "BACKUP_MIN_DUMP_BYTES": str(10**9)}

    # when
    result = run(["bash", BACKUP, tmp_path], env)

    # then
    assert result.returncode != 0
    assert "the dump is suspiciously small" in result.stderr
    assert backups_in(tmp_path) == []


def test_backup_fails_when_the_bucket_is_unreadable(source, s3_server, tmp_path):
    # given: a bucket that does not exist
    env = {**source["env"], "MINIO_BUCKET": f"missing-{uuid.uuid4().hex[:8]}"}

    # when
    result = run(["bash", BACKUP, tmp_path], env)

    # then
    assert result.returncode != 0
    assert "backup_files failed" in result.stderr
    assert backups_in(tmp_path) == []


def test_retention_deletes_only_backups_older_than_the_limit(source, tmp_path):
    # given
    now = datetime.now(UTC)
    recent = f"itassets-{now - timedelta(days=6, hours=23):%Y%m%dT%H%M%SZ}"
    old = f"itassets-{now - timedelta(days=7, hours=1):%Y%m%dT%H%M%SZ}"
    for name in [recent, old, "itassets-20000102T000000Z.partial", "other-dir"]:
        (tmp_path / name).mkdir()
    env = {**source["env"], "BACKUP_RETENTION_DAYS": "7"}

    # when
    result = run(["bash", BACKUP, tmp_path], env)

    # then
    assert result.returncode == 0, result.stderr
    new = Path(result.stdout.strip().splitlines()[-1]).name
    assert backups_in(tmp_path) == sorted(["other-dir", recent, new])
