"""Copies of the uploaded files: every object of the default storage to a directory and back.

Used by ``manage.py backup_files`` / ``restore_files`` (called by ``deploy/backup.sh`` and
``deploy/restore.sh``). On S3 (MinIO) the bucket is read and written through boto3 with the
credentials and endpoint of ``STORAGES["default"]``; with local storage (embedded mode) the
``MEDIA_ROOT`` tree is copied. A backup directory holds:

    objects/<key>       the bytes of each object, under its key
    manifest.json       {"format": 1, "source": ..., "objects": [{key, size, sha256,
                        content_type}], "count": N, "total_bytes": B}

A restore checks every file against the manifest before it writes anything, refuses a
target that already holds objects, and compares the target's listing with the manifest
afterwards.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from django.core.files.storage import storages

MANIFEST = "manifest.json"
OBJECTS = "objects"
FORMAT = 1
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    content_type: str = ""


@dataclass(frozen=True)
class Summary:
    count: int
    total_bytes: int
    source: str


def _storage():
    """The configured default storage (``STORAGES["default"]``), not a lazy proxy."""
    return storages["default"]


def _is_s3(storage) -> bool:
    from storages.backends.s3 import S3Storage

    return isinstance(storage, S3Storage)


def storage_description() -> str:
    storage = _storage()
    if _is_s3(storage):
        return f"s3://{storage.bucket_name} at {storage.endpoint_url}"
    return f"local directory {storage.location}"


def _safe_relative(key: str) -> PurePosixPath:
    """``key`` as a relative path that cannot leave the backup directory."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or key.endswith("/"):
        raise BackupError(f"refusing an object key that is not a plain relative path: {key!r}")
    return path


def _copy_hashing(source, target: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- listing --------------------------------------------------------------------------------


def _s3_listing(client, bucket: str) -> Iterator[dict]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        yield from page.get("Contents", [])


def _local_listing(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith(".ready-probe"):
            yield path.relative_to(root).as_posix(), path


def current_objects() -> dict[str, int]:
    """Key → size of every object the default storage holds now."""
    if _is_s3(_storage()):
        s3 = _storage()
        client = s3.connection.meta.client
        return {o["Key"]: o["Size"] for o in _s3_listing(client, s3.bucket_name)}
    root = Path(_storage().location)
    return {key: path.stat().st_size for key, path in _local_listing(root)}


# --- backup ---------------------------------------------------------------------------------


def backup_files(target: Path) -> Summary:
    """Copy every object of the default storage to ``target`` (new or empty) with a manifest."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty")
    objects_dir = target / OBJECTS
    objects_dir.mkdir(parents=True, exist_ok=True)
    source = storage_description()
    objects: list[StoredObject] = []
    if _is_s3(_storage()):
        s3 = _storage()
        client = s3.connection.meta.client
        for item in _s3_listing(client, s3.bucket_name):
            key = item["Key"]
            relative = _safe_relative(key)
            response = client.get_object(Bucket=s3.bucket_name, Key=key)
            size, sha = _copy_hashing(response["Body"], objects_dir / relative)
            if size != item["Size"]:
                raise BackupError(f"{key}: listed {item['Size']} bytes, downloaded {size}")
            objects.append(StoredObject(key, size, sha, response.get("ContentType", "")))
    else:
        root = Path(_storage().location)
        for key, path in _local_listing(root):
            with path.open("rb") as handle:
                size, sha = _copy_hashing(handle, objects_dir / _safe_relative(key))
            objects.append(StoredObject(key, size, sha))
    summary = Summary(len(objects), sum(o.size for o in objects), source)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "count": summary.count,
        "total_bytes": summary.total_bytes,
        "objects": [asdict(o) for o in objects],
    }
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return summary


# --- restore --------------------------------------------------------------------------------


def read_manifest(source: Path) -> list[StoredObject]:
    path = Path(source) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: unknown format {manifest.get('format')!r}")
    objects = [StoredObject(**o) for o in manifest["objects"]]
    if len(objects) != manifest.get("count"):
        raise BackupError(f"{path}: count {manifest.get('count')} but {len(objects)} entries")
    return objects


def verify_backup(source: Path) -> list[StoredObject]:
    """The manifest's objects, after checking each file's size and SHA-256."""
    objects = read_manifest(source)
    problems = []
    for obj in objects:
        path = Path(source) / OBJECTS / _safe_relative(obj.key)
        if not path.is_file():
            problems.append(f"{obj.key}: missing")
        elif path.stat().st_size != obj.size:
            problems.append(f"{obj.key}: {path.stat().st_size} bytes, manifest says {obj.size}")
        elif file_sha256(path) != obj.sha256:
            problems.append(f"{obj.key}: SHA-256 differs from the manifest")
    if problems:
        raise BackupError("the backup does not match its manifest:\n  " + "\n  ".join(problems))
    return objects


def restore_files(source: Path) -> Summary:
    """Upload a verified backup into the default storage, which must be empty."""
    source = Path(source)
    objects = verify_backup(source)
    existing = current_objects()
    if existing:
        raise BackupError(
            f"the target ({storage_description()}) already holds {len(existing)} objects; "
            "restore into an empty bucket"
        )
    if _is_s3(_storage()):
        s3 = _storage()
        client = s3.connection.meta.client
        for obj in objects:
            extra = {"ContentType": obj.content_type} if obj.content_type else {}
            with (source / OBJECTS / obj.key).open("rb") as handle:
                client.put_object(Bucket=s3.bucket_name, Key=obj.key, Body=handle, **extra)
    else:
        root = Path(_storage().location)
        for obj in objects:
            target = root / _safe_relative(obj.key)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / OBJECTS / obj.key, target)
    restored = current_objects()
    expected = {o.key: o.size for o in objects}
    if restored != expected:
        missing = sorted(set(expected) - set(restored))[:5]
        raise BackupError(f"after the restore the target differs from the manifest: {missing}")
    return Summary(len(objects), sum(o.size for o in objects), storage_description())
