"""Services of the web import: an uploaded file becomes an ``ImportJob``; Celery tasks
validate it (a preview) and, once a clerk confirms, import it, both through ``import_file``.

Live progress goes to the cache (the import's own writes are inside one transaction, so a
progress column would stay invisible until the end); states and results go to the job row.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from itassets.models import ImportJob

from .base import ImportResult
from .reader import ReadError
from .service import KINDS, error_workbook_write, import_file, importer_class

logger = logging.getLogger(__name__)

MAX_STORED_ERRORS = 1000
PREVIEW_ROWS = 200
ALLOWED_SUFFIXES = (".xlsx", ".csv", ".txt")
PROGRESS_TTL = 3600


def progress_key(job_id: int) -> str:
    return f"importjob:{job_id}:progress"


def import_job_progress(job: ImportJob) -> dict | None:
    """{"phase", "done", "total", "percent"} of a running job, from the cache."""
    data = cache.get(progress_key(job.pk))
    if not data:
        return None
    total = data.get("total") or 0
    done = data.get("done") or 0
    data["percent"] = min(100, round(done * 100 / total)) if total else None
    return data


def import_upload_validate(upload) -> None:
    """The upload is an .xlsx workbook or a CSV text file within the size limit."""
    if upload.size > settings.IMPORT_MAX_BYTES:
        raise ValidationError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {
                "size": f"{upload.size / 1048576:.1f}",
                "limit": f"{settings.IMPORT_MAX_BYTES / 1048576:.1f}",
            },
            code="too_large",
        )
    suffix = Path(upload.name).suffix.lower()
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    is_zip = head.startswith(b"PK\x03\x04")
    if (
        suffix not in ALLOWED_SUFFIXES
        or (suffix == ".xlsx") != is_zip
        or (not is_zip and b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")))
    ):
        raise ValidationError(
            _("“%(name)s” is not an .xlsx workbook or a .csv file.") % {"name": upload.name},
            code="bad_type",
        )


@transaction.atomic
def import_job_create(
    *,
    actor,
    kind: str,
    upload,
    create_missing_refs: bool = False,
    encoding: str = "",
    sheet: str = "",
    language: str | None = None,
) -> ImportJob:
    """Store the upload (private storage) and queue its validation."""
    if kind not in KINDS:
        raise ValidationError(_("Unknown kind of import."))
    permission = importer_class(kind).permission
    if not actor.has_perm(permission):
        raise PermissionDenied
    import_upload_validate(upload)
    job = ImportJob(
        kind=kind,
        original_name=Path(upload.name).name[:255],
        options={
            "create_missing_refs": bool(create_missing_refs),
            "encoding": encoding or None,
            "sheet": sheet or None,
        },
        language=language or settings.LANGUAGE_CODE,
        created_by=actor,
    )
    job.file.save(f"upload{Path(upload.name).suffix.lower()}", upload, save=False)
    job.save()
    from .tasks import import_job_validate_task

    transaction.on_commit(lambda: import_job_validate_task.delay(job.pk))
    return job


@transaction.atomic
def import_job_confirm(*, job: ImportJob, actor) -> ImportJob:
    """A validated job without errors is queued for the real import."""
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if locked.state != ImportJob.State.VALID:
        raise ValidationError(_("Only a checked file without errors can be imported."))
    if not actor.has_perm(importer_class(locked.kind).permission):
        raise PermissionDenied
    locked.state = ImportJob.State.QUEUED
    locked.save(update_fields=["state"])
    from .tasks import import_job_run_task

    transaction.on_commit(lambda: import_job_run_task.delay(locked.pk))
    return locked


@contextmanager
def _local_copy(job: ImportJob):
    """The stored upload as a local file (workbooks need seeking; S3 objects are copied)."""
    suffix = Path(job.file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with default_storage.open(job.file.name, "rb") as src:
            shutil.copyfileobj(src, tmp, 1 << 20)
        tmp.flush()
        yield Path(tmp.name)


def _set_state(job_id: int, **fields) -> None:
    ImportJob.objects.filter(pk=job_id).update(**fields)


def _progress(job_id: int):
    def report(phase: str, done: int, total: int | None) -> None:
        cache.set(
            progress_key(job_id), {"phase": phase, "done": done, "total": total}, PROGRESS_TTL
        )

    return report


def _store_result(job: ImportJob, result: ImportResult, path: Path, state: str) -> None:
    job.state = state
    job.rows = result.rows
    job.created_count = result.created
    job.updated_count = result.updated
    job.unchanged_count = result.unchanged
    job.error_count = len(result.errors)
    job.errors = [e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]]
    job.warnings = list(result.warnings)
    job.finished_at = timezone.now()
    job.preview = {}
    if result.errors and result.header_row is not None:
        preview: list[dict] = []
        with tempfile.TemporaryFile() as out:
            error_workbook_write(
                result=result,
                source=path,
                out=out,
                encoding=job.options.get("encoding"),
                sheet=job.options.get("sheet"),
                preview=preview,
                preview_limit=PREVIEW_ROWS,
            )
            out.seek(0)
            job.error_file.save(
                f"{Path(job.original_name).stem}.errors.xlsx", File(out), save=False
            )
        job.preview = {"headers": result.headers, "rows": preview}
    elif result.errors:
        job.preview = {"headers": [], "rows": []}
    job.save()


def _run(job_id: int, *, dry_run: bool) -> ImportJob | None:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return None
    expected = ImportJob.State.PENDING if dry_run else ImportJob.State.QUEUED
    running = ImportJob.State.VALIDATING if dry_run else ImportJob.State.IMPORTING
    # Claim the job with one conditional UPDATE: a task delivered twice runs once.
    claimed = ImportJob.objects.filter(pk=job_id, state=expected).update(
        state=running, started_at=timezone.now()
    )
    if not claimed:
        logger.warning("import job %s is %s, not %s: skipped", job_id, job.state, expected)
        return job
    job.state = running
    try:
        with translation.override(job.language), _local_copy(job) as path:
            result = import_file(
                kind=job.kind,
                path=path,
                file_name=job.original_name,
                actor=job.created_by,
                dry_run=dry_run,
                encoding=job.options.get("encoding"),
                sheet=job.options.get("sheet"),
                create_missing_refs=job.options.get("create_missing_refs", False),
                progress=_progress(job_id),
            )
            if result.errors:
                state = ImportJob.State.INVALID if dry_run else ImportJob.State.FAILED
            else:
                state = ImportJob.State.VALID if dry_run else ImportJob.State.DONE
            _store_result(job, result, path, state)
    except (ReadError, OSError) as exc:
        logger.warning("import job %s: %s", job_id, exc)
        _set_state(
            job_id, state=ImportJob.State.FAILED, message=str(exc), finished_at=timezone.now()
        )
    except Exception:
        logger.exception("import job %s crashed", job_id)
        _set_state(
            job_id,
            state=ImportJob.State.FAILED,
            message=_("The import stopped because of an internal error; nothing was written."),
            finished_at=timezone.now(),
        )
    finally:
        cache.delete(progress_key(job_id))
    return ImportJob.objects.get(pk=job_id)


def import_job_validate(*, job_id: int) -> ImportJob | None:
    """Check the whole file without writing: the counts, every error, the error workbook."""
    return _run(job_id, dry_run=True)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Import a confirmed job (validated again: the register may have changed meanwhile)."""
    return _run(job_id, dry_run=False)
