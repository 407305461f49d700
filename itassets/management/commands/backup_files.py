"""``manage.py backup_files --to DIR``: every uploaded file, with a manifest of SHA-256 sums.

Reads the bucket of the configured default storage (MinIO/S3 through boto3; the local media
directory in embedded mode). ``deploy/backup.sh`` calls it next to the database dump.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from itassets.backup import BackupError, backup_files


class Command(BaseCommand):
    help = (
        "Copy every object of the default storage (the MinIO/S3 bucket) to DIR/objects/ and "
        "write DIR/manifest.json with each key, size, SHA-256 and content type."
    )

    def add_arguments(self, parser):
        parser.add_argument("--to", required=True, type=Path, metavar="DIR", dest="target")

    def handle(self, *args, target: Path, **options):
        try:
            summary = backup_files(target)
        except BackupError as exc:
            raise CommandError(f"backup_files: {exc}") from exc
        self.stdout.write(
            f"backup_files: {summary.count} objects, {summary.total_bytes} bytes from "
            f"{summary.source} to {target}"
        )
