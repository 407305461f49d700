"""``/assets/export.xlsx`` and ``/assets/export.csv``: the asset list as the user filtered it.

Up to ``EXPORT_SYNC_MAX_ROWS`` rows download at once (CSV streamed, .xlsx written to a
temporary file first: both in constant memory); larger exports become a background job whose
page offers the download when it is ready.
"""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from itassets.exports import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE

from ..exports import (
    asset_export_filters,
    asset_export_job_create,
    asset_export_rows,
    iter_csv,
    write_xlsx,
)
from ..selectors import asset_list
from .list import _require_scope


@login_required
@require_GET
def asset_export(request, fmt: str):
    if fmt not in ("xlsx", "csv"):
        raise Http404
    _require_scope(request.user)
    query = request.GET.urlencode()
    filters = asset_export_filters(query=query)
    count = asset_list(user=request.user, filters=filters).count()
    if count > settings.EXPORT_SYNC_MAX_ROWS:
        job = asset_export_job_create(actor=request.user, fmt=fmt, query=query)
        return redirect(job)
    header, rows, _count = asset_export_rows(user=request.user, filters=filters)
    filename = f"assets-{timezone.localtime():%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(iter_csv(header, rows), content_type=CSV_CONTENT_TYPE)
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response
    out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    write_xlsx(header, rows, out)
    out.seek(0)
    return FileResponse(out, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
