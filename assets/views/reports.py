"""Reports: ``/reports/depreciation/?month=YYYY-MM`` (折旧明细表), on screen and as Excel.

For asset clerks, administrators and auditors: the users who may view every asset
(``assets.view_asset``); anyone else gets 403. The figures come from
``assets.selectors_reports``; this module parses the query string and renders.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from itassets.exports import export_response

from ..selectors_reports import (
    REPORT_PER_PAGE,
    ReportTrees,
    depreciation_export,
    depreciation_report,
    report_trees,
)

REPORT_PERMISSION = "assets.view_asset"
TEMPLATE = "assets/depreciation_report.html"
FILTER_KEYS = ("month", "department", "category")
_SELECT = {"class": "form-select form-select-sm"}


class DepreciationReportForm(forms.Form):
    month = forms.DateField(
        label=_("Month"),
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(
            format="%Y-%m", attrs={"type": "month", "class": "form-control form-control-sm"}
        ),
    )
    department = forms.TypedChoiceField(
        label=_("Department"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(attrs=_SELECT),
    )
    category = forms.TypedChoiceField(
        label=_("Category"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(attrs=_SELECT),
    )

    def __init__(self, *args, trees: ReportTrees, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in ("department", "category"):
            self.fields[kind].choices = [("", _("All")), *trees.choices(kind)]

    def values(self, today: date) -> tuple[date, dict]:
        """(the month, the filters): invalid fields are shown with their error and ignored."""
        cleaned = self.cleaned_data if self.is_valid() else getattr(self, "cleaned_data", {})
        month = cleaned.get("month") or today.replace(day=1)
        filters = {k: cleaned[k] for k in ("department", "category") if cleaned.get(k)}
        return month, filters


def _href(base: str, params: QueryDict, **changes) -> str:
    query = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        value = params.get(key, "").strip()
        if value:
            query[key] = value
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"{base}?{encoded}" if encoded else base


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


EXPORT_HEADER = (
    _("Asset tag"),
    _("Name"),
    _("Category"),
    _("Department"),
    _("Cost (CNY)"),
    _("Depreciation this month"),
    _("Accumulated depreciation"),
    _("Net book value"),
)


def _export_rows(items):
    """Asset rows, a blank line, a subtotal per department, then the total."""
    blank_written = False
    for kind, item in items:
        if kind == "row":
            yield [
                item.tag,
                item.name,
                item.category,
                item.department,
                item.cost,
                item.this_month,
                item.accumulated,
                item.net_book_value,
            ]
            continue
        if not blank_written:
            blank_written = True
            yield []
        if kind == "department":
            totals, label, department = item.totals, gettext("Subtotal"), item.name
            department = department or gettext("No department")
        else:
            totals, label, department = item, gettext("Total"), ""
        yield [
            label,
            gettext("%(count)s assets") % {"count": totals.count},
            "",
            department,
            totals.cost,
            totals.this_month,
            totals.accumulated,
            totals.net_book_value,
        ]


@login_required
@require_GET
def depreciation(request):
    """Per asset and per department for one month; ``export=xlsx`` downloads the whole of it."""
    if not request.user.has_perm(REPORT_PERMISSION):
        raise PermissionDenied
    trees = report_trees()
    today = timezone.localdate()
    form = DepreciationReportForm(
        request.GET or None, trees=trees, initial={"month": today.replace(day=1)}
    )
    month, filters = form.values(today)
    if request.GET.get("export") == "xlsx":
        items = depreciation_export(user=request.user, month=month, filters=filters, trees=trees)
        return export_response(
            header=[str(h) for h in EXPORT_HEADER],
            rows=_export_rows(items),
            fmt="xlsx",
            basename=f"depreciation-{month:%Y-%m}",
            title=gettext("Depreciation %(month)s") % {"month": f"{month:%Y-%m}"},
        )
    report = depreciation_report(
        user=request.user,
        month=month,
        filters=filters,
        trees=trees,
        page=_int(request.GET.get("page"), 1),
        per_page=REPORT_PER_PAGE,
    )
    base = reverse("reports:depreciation")
    context = {
        "form": form,
        "report": report,
        "month": month,
        "export_url": _href(base, request.GET, export="xlsx"),
        "previous_url": _href(base, request.GET, page=report.number - 1)
        if report.has_previous
        else None,
        "next_url": _href(base, request.GET, page=report.number + 1) if report.has_next else None,
    }
    htmx = request.htmx
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        response = render(request, f"{TEMPLATE}#report", context)
    else:
        response = render(request, TEMPLATE, context)
    patch_vary_headers(response, ("HX-Request",))
    return response
