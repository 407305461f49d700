"""``/imports/``: templates, upload, live validation progress, preview with every error,
confirmation and the background import; ``/exports/<id>/``: large exports' download page.

Everything heavy runs in Celery tasks (``itassets.importing.tasks``); the pages poll a status
fragment (the job panel) with htmx while a job runs.
"""

from __future__ import annotations

import tempfile

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from itassets.models import ExportJob, ImportJob
from itassets.roles import ADMIN, has_role

from . import jobs
from .forms import ImportUploadForm, TemplateForm
from .service import KINDS, available_kinds, importer_class, template_write

PAGE_PERMISSION = "assets.add_asset"
RECENT_JOBS = 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _require_clerk(user) -> None:
    if not user.has_perm(PAGE_PERMISSION):
        raise PermissionDenied


def _kinds_for(user) -> list[str]:
    return [k for k in available_kinds() if user.has_perm(importer_class(k).permission)]


def _job_for(request, model, pk):
    job = get_object_or_404(model, pk=pk)
    if job.created_by_id != request.user.pk and not has_role(request.user, ADMIN):
        raise Http404
    return job


def _wants_fragment(request) -> bool:
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    """The start page: template download, upload form, my recent imports."""
    _require_clerk(request.user)
    kinds = _kinds_for(request.user)
    form = ImportUploadForm(request.POST or None, request.FILES or None, kinds=kinds)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = jobs.import_job_create(
                actor=request.user,
                kind=data["kind"],
                upload=data["file"],
                create_missing_refs=data["create_missing_refs"],
                encoding=data["encoding"],
                sheet=data["sheet"],
                language=get_language(),
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect(job)
    context = {
        "form": form,
        "template_form": TemplateForm(kinds=kinds, initial={"kind": kinds[0] if kinds else ""}),
        "jobs": ImportJob.objects.filter(created_by=request.user)[:RECENT_JOBS],
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "imports/import_page.html", context, status=status)


@login_required
@require_GET
def import_template(request):
    """A template workbook for the chosen kind (assets: with a category's custom fields)."""
    _require_clerk(request.user)
    form = TemplateForm(request.GET, kinds=_kinds_for(request.user))
    if not form.is_valid():
        raise Http404
    kind, category = form.cleaned_data["kind"], form.cleaned_data["category"]
    out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    template_write(kind=kind, out=out, category=category)
    out.seek(0)
    name = f"{kind}-template.xlsx" if category is None else f"{kind}-{category.code}-template.xlsx"
    return FileResponse(out, as_attachment=True, filename=name, content_type=XLSX)


def _preview(job: ImportJob) -> dict:
    """The bad rows as the page shows them: each cell with its reason (None when good)."""
    preview = job.preview or {}
    headers = preview.get("headers") or []
    rows = []
    for item in preview.get("rows") or []:
        cells = list(item.get("cells") or [])
        cells += [""] * (len(headers) - len(cells))
        bad = item.get("bad") or {}
        rows.append(
            {
                "row": item.get("row"),
                "cells": [(text, bad.get(str(i))) for i, text in enumerate(cells)],
                "reasons": item.get("reasons") or [],
            }
        )
    return {"headers": headers, "rows": rows}


def _job_context(job: ImportJob) -> dict:
    errors = job.errors or []
    return {
        "job": job,
        "progress": jobs.import_job_progress(job) if job.is_running else None,
        "errors": errors,
        "more_errors": max(0, job.error_count - len(errors)),
        "preview": _preview(job),
        "kind_label": KINDS.get(job.kind, (job.kind,))[0],
    }


@login_required
@require_GET
def import_job(request, pk: int):
    """A job's page; an htmx poll gets only the job panel (it stops polling when done)."""
    _require_clerk(request.user)
    job = _job_for(request, ImportJob, pk)
    context = _job_context(job)
    if _wants_fragment(request):
        response = render(request, "imports/importjob_detail.html#job-panel", context)
    else:
        response = render(request, "imports/importjob_detail.html", context)
    patch_vary_headers(response, ("HX-Request",))
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def import_confirm(request, pk: int):
    """Queue the import of a checked file; htmx gets the (polling) job panel."""
    _require_clerk(request.user)
    job = _job_for(request, ImportJob, pk)
    error = None
    try:
        jobs.import_job_confirm(job=job, actor=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    job.refresh_from_db()
    if _wants_fragment(request):
        context = {**_job_context(job), "confirm_error": error}
        return render(request, "imports/importjob_detail.html#job-panel", context)
    return redirect(job)


def _download(name: str, filename: str, content_type: str = XLSX) -> FileResponse:
    if not name or not default_storage.exists(name):
        raise Http404
    return FileResponse(
        default_storage.open(name, "rb"),
        as_attachment=True,
        filename=filename,
        content_type=content_type,
    )


@login_required
@require_GET
def import_errors(request, pk: int):
    """The error workbook: every row, bad cells in red, a reason column."""
    _require_clerk(request.user)
    job = _job_for(request, ImportJob, pk)
    return _download(job.error_file.name, job.error_file.name.rsplit("/", 1)[-1])


@login_required
@require_GET
def export_job(request, pk: int):
    """A background export's page: polls while it runs, then offers the download."""
    job = _job_for(request, ExportJob, pk)
    context = {"job": job}
    template = "imports/exportjob_detail.html"
    if _wants_fragment(request):
        template += "#export-panel"
    response = render(request, template, context)
    add_never_cache_headers(response)
    return response


@login_required
@require_GET
def export_download(request, pk: int):
    job = _job_for(request, ExportJob, pk)
    if job.state != ExportJob.State.DONE:
        raise Http404
    content_type = XLSX if job.fmt == "xlsx" else "text/csv; charset=utf-8"
    stamp = job.created_at.strftime("%Y%m%d-%H%M")
    return _download(job.file.name, f"{job.kind}-{stamp}.{job.fmt}", content_type)
