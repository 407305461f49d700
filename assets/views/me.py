"""Self-service for employees (``/me/assets/`` 我的资产): what I hold with due dates (overdue
highlighted), handover receipts to confirm, and per asset "request return" and "report a
fault". Plus, for clerks, ``/assets/unconfirmed/``: assignments not confirmed after
``ASSIGNMENT_CONFIRM_DAYS`` days and the open return requests.

Authorisation: the self-service pages need a staff record (Person) linked to the user (else
403); an asset the user does not hold, or a handover not addressed to them, answers 404.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..forms_workflow import FaultReportForm, ReturnRequestForm
from ..models import Handover
from ..selectors import person_for
from ..selectors_workflow import (
    FULFIL_PERMISSION,
    handovers_unconfirmed,
    held_asset,
    my_assets,
    return_requests_open,
)
from ..services import handover_accept as handover_accept_service
from ..services import requests as services
from .dialogs import done, form_dialog, is_fragment

TEMPLATE = "assets/asset_mine.html"
CHANGED = "myAssetsChanged"


def _require_person(user):
    person = person_for(user)
    if person is None:
        raise PermissionDenied
    return person


def _context(request) -> dict:
    return {"mine": my_assets(user=request.user)}


def _done(request, text: str, *, level: int = messages.SUCCESS):
    messages.add_message(request, level, text)
    return done(
        request,
        url=reverse("me:assets"),
        event=CHANGED,
        regions=[f"{TEMPLATE}#my-assets"],
        context=_context(request),
    )


@login_required
@require_GET
def my_asset_list(request):
    _require_person(request.user)
    context = _context(request)
    if is_fragment(request):
        return render(request, f"{TEMPLATE}#my-assets", context)
    return render(request, TEMPLATE, context)


@login_required
@require_POST
def handover_accept(request, pk: int):
    person = _require_person(request.user)
    handover = Handover.objects.filter(pk=pk, to_person=person).first()
    if handover is None:
        raise Http404
    try:
        handover_accept_service(handover=handover, actor=request.user)
    except ValidationError as exc:
        return _done(request, " ".join(exc.messages), level=messages.ERROR)
    return _done(request, _("Receipt confirmed: %(number)s.") % {"number": handover.number})


def _held(request, tag: str):
    _require_person(request.user)
    asset = held_asset(user=request.user, tag=tag)
    if asset is None:
        raise Http404
    return asset


def _asset_summary(asset) -> list:
    return [(_("Asset"), f"{asset.tag} {asset.name}"), (_("Status"), asset.get_status_display())]


@login_required
@require_http_methods(["GET", "POST"])
def return_request(request, tag: str):
    asset = _held(request, tag)
    form = ReturnRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.asset_return_request(
                actor=request.user, asset=asset, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return _done(request, _("Return requested: %(tag)s.") % {"tag": asset.tag})
    return form_dialog(
        request,
        form=form,
        title=_("Request return"),
        action=reverse("me:return_request", args=[asset.tag]),
        back_url=reverse("me:assets"),
        submit_label=_("Request return"),
        summary=_asset_summary(asset),
    )


@login_required
@require_http_methods(["GET", "POST"])
def fault_report(request, tag: str):
    asset = _held(request, tag)
    form = FaultReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order = services.repair_report(
                actor=request.user, asset=asset, fault=form.cleaned_data["fault"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return _done(request, _("Fault reported: %(number)s.") % {"number": order.number})
    return form_dialog(
        request,
        form=form,
        title=_("Report a fault"),
        action=reverse("me:fault_report", args=[asset.tag]),
        back_url=reverse("me:assets"),
        submit_label=_("Report"),
        summary=_asset_summary(asset),
    )


# --- For clerks ---------------------------------------------------------------------------


@login_required
@require_GET
def unconfirmed(request):
    """Assignments whose receipt is not confirmed after N days, and open return requests."""
    if not request.user.has_perm(FULFIL_PERMISSION):
        raise PermissionDenied
    context = {
        "handovers": list(handovers_unconfirmed()),
        "returns": return_requests_open(),
        "days": settings.ASSIGNMENT_CONFIRM_DAYS,
    }
    template = "assets/handover_unconfirmed.html"
    if is_fragment(request):
        return render(request, f"{template}#unconfirmed", context)
    return render(request, template, context)
