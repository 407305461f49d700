"""QR label PDFs: one asset (``assets:label``) or a selection (``assets:labels``).

Who may print: anyone who may see the asset. Labels show only what the detail page already
shows (tag, name, department), so the data scope of ``asset_queryset`` is the rule: clerks,
admins and auditors print any asset, a department head the department's, an employee their
own. A user without any role gets 403; an asset outside the scope is 404 (one label) or is
reported as unknown (selection), exactly like a tag that does not exist.
"""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from itassets.roles import user_scope

from ..labels import DEFAULT_FORMAT, FORMATS, render_labels
from ..selectors import asset_get, asset_queryset

TAG_SEPARATORS = re.compile(r"[\s,，;；、]+")
MAX_LISTED_UNKNOWN = 20


def _require_register_access(user) -> None:
    if user_scope(user) is None:
        raise PermissionDenied


def pdf_response(pdf: bytes, *, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, filename)
    patch_cache_control(response, private=True, no_store=True)
    return response


def _render(assets, fmt: str) -> bytes:
    return render_labels(assets, fmt=fmt, organisation=settings.ORGANISATION_NAME)


@login_required
@require_GET
def label(request, tag: str):
    """The label of one asset: ``/assets/<tag>/label.pdf?format=50x30``."""
    _require_register_access(request.user)
    fmt = request.GET.get("format") or DEFAULT_FORMAT
    if fmt not in FORMATS:
        return HttpResponseBadRequest(
            _("Unknown label format “%(format)s”.") % {"format": fmt},
            content_type="text/plain; charset=utf-8",
        )
    asset = asset_get(user=request.user, tag=tag)
    if asset is None:
        raise Http404
    return pdf_response(_render([asset], fmt), filename=f"label-{asset.tag}.pdf")


class LabelSelectionForm(forms.Form):
    """Tags (repeated ``tags`` fields, or one text with a tag per line) and a format."""

    tags = forms.CharField(
        label=gettext_lazy("Asset tags"),
        widget=forms.Textarea(attrs={"rows": 8, "class": "form-control font-monospace"}),
        help_text=gettext_lazy("One tag per line, or separated by commas or spaces."),
    )
    format = forms.ChoiceField(
        label=gettext_lazy("Label format"),
        choices=[(f.key, f.label) for f in FORMATS.values()],
        initial=DEFAULT_FORMAT,
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def clean_tags(self) -> list[str]:
        tags = list(dict.fromkeys(t for t in TAG_SEPARATORS.split(self.cleaned_data["tags"]) if t))
        if not tags:
            raise forms.ValidationError(_("Enter at least one asset tag."), code="required")
        limit = settings.LABEL_MAX_PER_REQUEST
        if len(tags) > limit:
            raise forms.ValidationError(
                _(
                    "At most %(limit)s labels can be printed at once; %(count)s tags were given. "
                    "Print them in several batches."
                )
                % {"limit": limit, "count": len(tags)},
                code="too_many",
            )
        return tags


@login_required
@require_http_methods(["GET", "POST"])
def labels(request):
    """Labels for a selection: ``/assets/labels/`` with repeated ``tags`` and a ``format``
    (GET or POST, e.g. from the list's bulk selection). Without tags: the form to enter them."""
    _require_register_access(request.user)
    source = request.POST if request.method == "POST" else request.GET
    if "tags" not in source:
        form = LabelSelectionForm(initial={"format": source.get("format") or DEFAULT_FORMAT})
        return render(request, "assets/asset_labels.html", {"form": form})
    form = LabelSelectionForm(
        data={
            "tags": "\n".join(source.getlist("tags")),
            "format": source.get("format") or DEFAULT_FORMAT,
        }
    )
    if form.is_valid():
        tags = form.cleaned_data["tags"]
        found = {
            a.tag: a
            for a in asset_queryset(user=request.user)
            .filter(tag__in=tags)
            .select_related("department")
            .only("id", "tag", "name", "department__name", "department__full_name")
        }
        unknown = [t for t in tags if t not in found]
        if not unknown:
            fmt = form.cleaned_data["format"]
            name = f"label-{tags[0]}.pdf" if len(tags) == 1 else f"labels-{len(tags)}.pdf"
            return pdf_response(_render([found[t] for t in tags], fmt), filename=name)
        listed = "、".join(unknown[:MAX_LISTED_UNKNOWN])
        if len(unknown) > MAX_LISTED_UNKNOWN:
            listed += "…"
        form.add_error(
            "tags",
            _(
                "%(count)s tags do not exist or are not visible to you: %(tags)s. "
                "Nothing was printed."
            )
            % {"count": len(unknown), "tags": listed},
        )
    return render(request, "assets/asset_labels.html", {"form": form}, status=400)
