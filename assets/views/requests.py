"""Asset requests (申领): ``/me/requests/`` for the requester (list, new request, cancel) and
``/requests/`` for those who handle them: department heads approve or reject their
departments' requests, asset clerks fulfil approved ones by picking an in-stock asset.

Authorisation: ``/me/requests/`` needs a staff record (Person) linked to the user; a request
that is not the user's to cancel, decide or fulfil answers 404; ``/requests/`` answers 403 to
users who can neither decide nor fulfil any request.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from itassets.roles import ADMIN, has_role

from ..forms_workflow import AssetRequestForm, DecisionForm, FulfilForm
from ..models import AssetRequest
from ..selectors import headed_department_ids, person_for
from ..selectors_workflow import (
    asset_request_candidates,
    asset_request_for_decision,
    asset_request_for_fulfilment,
    asset_request_may_fulfil,
    asset_requests_mine,
    asset_requests_to_decide,
    asset_requests_to_fulfil,
    request_categories,
    request_models,
)
from ..services import requests as services
from .dialogs import done, form_dialog, is_fragment

MINE_TEMPLATE = "assets/assetrequest_mine.html"
QUEUE_TEMPLATE = "assets/assetrequest_queue.html"
CHANGED = "assetRequestsChanged"


# --- The requester ------------------------------------------------------------------------


def _require_person(user):
    person = person_for(user)
    if person is None:
        raise PermissionDenied
    return person


def _mine_context(request, form: AssetRequestForm | None = None) -> dict:
    return {
        "requests": list(asset_requests_mine(user=request.user)),
        "form": form or AssetRequestForm(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def my_requests(request):
    """My requests and the form for a new one (htmx: the form posts in place)."""
    _require_person(request.user)
    if request.method == "POST":
        form = AssetRequestForm(request.POST)
        if form.is_valid():
            try:
                services.asset_request_submit(actor=request.user, **form.service_arguments())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Your request has been submitted."))
                return done(
                    request,
                    url=reverse("me:requests"),
                    event=CHANGED,
                    regions=[f"{MINE_TEMPLATE}#request-form", f"{MINE_TEMPLATE}#request-list"],
                    context=_mine_context(request),
                )
        if is_fragment(request):
            return render(request, f"{MINE_TEMPLATE}#request-form", {"form": form})
        return render(request, MINE_TEMPLATE, _mine_context(request, form))
    context = _mine_context(request)
    if is_fragment(request):
        return render(request, f"{MINE_TEMPLATE}#request-list", context)
    return render(request, MINE_TEMPLATE, context)


@login_required
@require_POST
def my_request_cancel(request, pk: int):
    person = _require_person(request.user)
    asset_request = AssetRequest.objects.filter(pk=pk, requester=person).first()
    if asset_request is None:
        raise Http404
    try:
        services.asset_request_cancel(request=asset_request, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Request cancelled."))
    return done(
        request,
        url=reverse("me:requests"),
        event=CHANGED,
        regions=[f"{MINE_TEMPLATE}#request-list"],
        context=_mine_context(request),
    )


@login_required
@require_GET
def model_options(request):
    """``<option>``s of the active models of a category (and its sub-categories)."""
    _require_person(request.user)
    raw = request.GET.get("category", "")
    category = request_categories().filter(pk=raw).first() if raw.isdigit() else None
    models = request_models(category=category) if category else []
    return render(
        request,
        "assets/partials/model_options.html",
        {"models": models, "selected": request.GET.get("model", "")},
    )


# --- Department heads and clerks ----------------------------------------------------------


def _may_handle(user) -> bool:
    return (
        has_role(user, ADMIN)
        or asset_request_may_fulfil(user)
        or bool(headed_department_ids(person_for(user)))
    )


def _queue_context(request) -> dict:
    user = request.user
    return {
        "to_decide": list(asset_requests_to_decide(user=user)),
        "to_fulfil": list(asset_requests_to_fulfil(user=user)),
        "can_fulfil": asset_request_may_fulfil(user),
    }


def _queue_done(request, text: str):
    messages.success(request, text)
    return done(
        request,
        url=reverse("requests:list"),
        event=CHANGED,
        regions=[f"{QUEUE_TEMPLATE}#request-queue"],
        context=_queue_context(request),
    )


@login_required
@require_GET
def request_queue(request):
    if not _may_handle(request.user):
        raise PermissionDenied
    context = _queue_context(request)
    if is_fragment(request):
        return render(request, f"{QUEUE_TEMPLATE}#request-queue", context)
    return render(request, QUEUE_TEMPLATE, context)


def _summary(asset_request: AssetRequest) -> list:
    return [
        (_("Requester"), asset_request.requester),
        (_("Department"), asset_request.department),
        (_("Category"), asset_request.category),
        (_("Model"), asset_request.model),
        (_("Reason"), asset_request.reason),
        (_("Needed by"), asset_request.needed_by),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def request_decide(request, pk: int):
    asset_request = asset_request_for_decision(user=request.user, pk=pk)
    if asset_request is None:
        raise Http404
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.asset_request_decide(
                request=asset_request,
                actor=request.user,
                approve=form.approve,
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            text = _("Request approved.") if form.approve else _("Request rejected.")
            return _queue_done(request, text)
    return form_dialog(
        request,
        form=form,
        title=_("Approve the request"),
        action=reverse("requests:decide", args=[pk]),
        back_url=reverse("requests:list"),
        decision=True,
        summary=_summary(asset_request),
    )


@login_required
@require_http_methods(["GET", "POST"])
def request_fulfil(request, pk: int):
    asset_request = asset_request_for_fulfilment(user=request.user, pk=pk)
    if asset_request is None:
        raise Http404
    candidates = asset_request_candidates(request=asset_request)
    form = FulfilForm(request.POST or None, candidates=candidates)
    if request.method == "POST" and form.is_valid():
        try:
            services.asset_request_fulfil(
                request=asset_request,
                actor=request.user,
                asset=form.cleaned_data["asset"],
                location=form.cleaned_data["location"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            asset = form.cleaned_data["asset"]
            return _queue_done(
                request,
                _("%(tag)s assigned to %(person)s.")
                % {"tag": asset.tag, "person": asset_request.requester},
            )
    return form_dialog(
        request,
        form=form,
        title=_("Fulfil the request"),
        action=reverse("requests:fulfil", args=[pk]),
        back_url=reverse("requests:list"),
        submit_label=_("Assign"),
        summary=_summary(asset_request),
    )
