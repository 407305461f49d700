"""The asset detail page (where a scanned QR label lands), attachment upload and downloads.

Files are never served from a public URL: the download views check that the user may see
the asset, then redirect to a short-lived presigned URL of the private bucket (S3), or stream
the file themselves when the storage is local (embedded mode, ``make run``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import models
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from storages.backends.s3 import S3Storage

from .. import services
from ..custom_fields import category_schema, display_values
from ..depreciation import asset_position
from ..forms import AttachmentForm
from ..history import EMPTY, asset_history, format_value
from ..models import Asset, Attachment
from ..qr import asset_url, qr_svg_image
from ..selectors import asset_get, asset_queryset
from .lifecycle import lifecycle_context

TEMPLATE = "assets/asset_detail.html"
UPLOAD_PERMISSION = "assets.add_attachment"
ATTACHMENTS_CHANGED = "attachmentsChanged"
QR_MAX_AGE = 24 * 3600
# The history timeline shows the latest entries; "?history=all" shows up to HISTORY_ALL
# (each entry is a diff of two records: an asset edited for years must not slow its page).
HISTORY_ON_PAGE = 20
HISTORY_ALL = 1000

SECTIONS = [
    (
        gettext_lazy("Basic information"),
        ["tag", "name", "category", "manufacturer", "model", "serial_number"],
    ),
    (gettext_lazy("Use"), ["department", "holder", "location", "due_date"]),
    (
        gettext_lazy("Purchase"),
        [
            "supplier",
            "order_number",
            "invoice_number",
            "purchase_date",
            "cost",
            "warranty_end",
            "useful_life_months",
            "residual_rate",
        ],
    ),
    (gettext_lazy("Record"), ["created_by", "created_at", "updated_by", "updated_at"]),
]


def _is_fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _visible_asset(user, tag: str) -> Asset:
    asset = asset_get(user=user, tag=tag)
    if asset is None:  # absent or outside the user's data scope: the same answer
        raise Http404
    return asset


def _field_value(asset: Asset, name: str) -> str:
    model_field = Asset._meta.get_field(name)
    if name == "useful_life_months" and asset.useful_life_months is None:
        return _("%(months)s (category default)") % {"months": asset.category.useful_life_months}
    if name == "residual_rate" and asset.residual_rate is None:
        return _("%(rate)s (category default)") % {"rate": asset.category.residual_rate}
    value = getattr(asset, name)
    if isinstance(model_field, models.ForeignKey):
        if name in ("created_by", "updated_by") and value is not None:
            return value.get_full_name() or value.get_username()
        return str(value) if value is not None else EMPTY
    return format_value(model_field, value)


def _sections(asset: Asset) -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (
            title,
            [(str(Asset._meta.get_field(n).verbose_name), _field_value(asset, n)) for n in names],
        )
        for title, names in SECTIONS
    ]


def _attachments_context(request, asset: Asset, form: AttachmentForm | None = None) -> dict:
    attachments = list(asset.attachments.select_related("uploaded_by"))
    return {
        "asset": asset,
        "attachments": attachments,
        "photos": [a for a in attachments if a.is_image and a.thumbnail],
        "upload_form": form or AttachmentForm(),
        "can_upload": request.user.has_perm(UPLOAD_PERMISSION),
    }


def _history(request, asset: Asset, schema) -> tuple[list, bool]:
    """(the entries shown, whether older ones were left out)."""
    if request.GET.get("history") == "all":
        return asset_history(asset=asset, schema=schema, limit=HISTORY_ALL), False
    entries = asset_history(asset=asset, schema=schema, limit=HISTORY_ON_PAGE + 1)
    return entries[:HISTORY_ON_PAGE], len(entries) > HISTORY_ON_PAGE


def _detail_context(request, asset: Asset, upload_form: AttachmentForm | None = None) -> dict:
    schema = category_schema(asset.category)
    if asset.model.manufacturer_id == asset.manufacturer_id:  # denormalised: same row, no query
        asset.model.manufacturer = asset.manufacturer
    history, history_more = _history(request, asset, schema)
    return {
        **_attachments_context(request, asset, upload_form),
        "sections": _sections(asset),
        "custom_values": display_values(schema, asset.custom_fields or {}),
        "history": history,
        "history_more": history_more,
        "qr_url": asset_url(asset.tag),
        "can_edit": request.user.has_perm("assets.change_asset"),
        "depreciation": _depreciation(asset),
        **lifecycle_context(request, asset),
    }


def _depreciation(asset: Asset) -> dict:
    """The depreciation card: method, life, residual rate and today's figures (``position``
    is None without a cost or purchase date: the page shows "—")."""
    return {
        "method": asset.category.get_depreciation_method_display(),
        "life_months": asset.effective_useful_life_months,
        "residual_rate": asset.effective_residual_rate,
        "position": asset_position(asset, month=timezone.localdate()),
    }


@login_required
@require_GET
def asset_detail(request, tag: str):
    asset = _visible_asset(request.user, tag)
    context = _detail_context(request, asset)
    if _is_fragment(request):
        return render(request, f"{TEMPLATE}#asset-detail", context)
    return render(request, TEMPLATE, context)


@login_required
@require_GET
def asset_qr(request, tag: str):
    """``/assets/<tag>/qr.svg``: the detail page's QR code, an image of its own. It encodes
    only the page's address, so it is the same for a tag every time: browsers keep it a day
    and no page view pays for drawing it (segno's choice of mask costs milliseconds)."""
    if not asset_queryset(user=request.user).filter(tag=tag).exists():
        raise Http404
    response = HttpResponse(qr_svg_image(tag), content_type="image/svg+xml")
    patch_cache_control(response, private=True, max_age=QR_MAX_AGE)
    return response


@login_required
@require_POST
def attachment_upload(request, tag: str):
    """Store one uploaded file (type checked by content, size by settings) on the asset."""
    if not request.user.has_perm(UPLOAD_PERMISSION):
        raise PermissionDenied
    asset = _visible_asset(request.user, tag)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.attachment_add(
                actor=request.user,
                asset=asset,
                upload=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc, default_field="file")
        else:
            if request.htmx:
                response = render(
                    request,
                    f"{TEMPLATE}#attachments",
                    _attachments_context(request, asset),
                )
                response["HX-Trigger"] = ATTACHMENTS_CHANGED
                return response
            messages.success(request, _("The file was uploaded."))
            return redirect(asset)
    if request.htmx:
        return render(
            request, f"{TEMPLATE}#attachments", _attachments_context(request, asset, form)
        )
    return render(request, TEMPLATE, _detail_context(request, asset, form))


def _visible_attachment(user, tag: str, pk: int) -> Attachment:
    asset = _visible_asset(user, tag)
    attachment = Attachment.objects.filter(asset=asset, pk=pk).first()
    if attachment is None:
        raise Http404
    attachment.asset = asset
    return attachment


def _serve(name: str, *, content_type: str, filename: str, inline: bool):
    """A private file: a presigned redirect (S3) or the bytes themselves (local storage)."""
    if not name:
        raise Http404
    if isinstance(default_storage, S3Storage):
        url = default_storage.url(
            name,
            parameters={
                "ResponseContentType": content_type,
                "ResponseContentDisposition": content_disposition_header(
                    as_attachment=not inline, filename=filename
                ),
            },
            expire=settings.MINIO_URL_EXPIRE_SECONDS,
        )
        response = HttpResponseRedirect(url)
    else:
        try:
            handle = default_storage.open(name, "rb")
        except FileNotFoundError as exc:
            raise Http404 from exc
        response = FileResponse(
            handle, content_type=content_type, as_attachment=not inline, filename=filename
        )
    # The redirect carries a credential that expires: nobody may cache it.
    add_never_cache_headers(response)
    response["Cache-Control"] += ", private"
    return response


@login_required
@require_GET
def attachment_download(request, tag: str, pk: int):
    attachment = _visible_attachment(request.user, tag, pk)
    return _serve(
        attachment.file.name,
        content_type=attachment.content_type,
        filename=attachment.original_name,
        inline=attachment.is_image,
    )


@login_required
@require_GET
def attachment_thumb(request, tag: str, pk: int):
    attachment = _visible_attachment(request.user, tag, pk)
    return _serve(
        attachment.thumbnail.name,
        content_type="image/jpeg",
        filename=f"thumb-{attachment.original_name}",
        inline=True,
    )
