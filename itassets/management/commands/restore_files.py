"""``manage.py restore_files --from DIR``: put a ``backup_files`` copy back into an empty bucket.

Every file is checked against the manifest (size, SHA-256) before anything is uploaded; a
target that already holds objects is refused; afterwards the bucket's listing must equal the
manifest. ``deploy/restore.sh`` calls it after the database restore.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from itassets.backup import BackupError, restore_files


class Command(BaseCommand):
    help = (
        "Upload the files of a backup_files directory (DIR/manifest.json, DIR/objects/) into "
        "the default storage, which must be empty. Verifies checksums before and the listing "
        "after."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", required=True, type=Path, metavar="DIR", dest="source")

    def handle(self, *args, source: Path, **options):
        try:
            summary = restore_files(source)
        except BackupError as exc:
            raise CommandError(f"restore_files: {exc}") from exc
        self.stdout.write(
            f"restore_files: {summary.count} objects, {summary.total_bytes} bytes from "
            f"{source} to {summary.source}"
        )
