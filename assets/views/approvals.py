"""The approvals queue (``/approvals/``): the steps the user may decide now, approve or reject
with a comment in a dialog, the user's decisions, and the requests the user started (which
they may withdraw while pending).

Who sees the page: users with ``assets.approve_asset_request`` and anyone named approver
of a step. Deciding a step the user may not decide answers 403 (the queue never shows it),
and so does the dialog of a decided request the user has nothing to do with; the detail
page of such a request answers 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..forms_workflow import DecisionForm
from ..lifecycle import TRANSITIONS
from ..models import ApprovalRequest, ApprovalStep
from ..selectors_workflow import (
    APPROVE_PERMISSION,
    approval_history,
    approval_queue,
    approval_step_for_decision,
    approval_steps,
    approvals_requested_by,
)
from ..services import approvals as services
from .dialogs import done, form_dialog, is_fragment

TEMPLATE = "assets/approval_queue.html"
DECIDED = "approvalDecided"


def _may_use(user) -> bool:
    return user.has_perm(APPROVE_PERMISSION) or ApprovalStep.objects.filter(approver=user).exists()


def _involved(user, approval: ApprovalRequest, steps=None) -> bool:
    """Whether ``user`` may see ``approval``: its requester, a named approver or decider of
    one of its steps, whoever may decide its open step, or a user who views all approvals."""
    if approval.requested_by_id == user.pk or user.has_perm("assets.view_approvalrequest"):
        return True
    if steps is not None:
        if any(user.pk in (s.approver_id, s.decided_by_id) for s in steps):
            return True
    elif approval.steps.filter(Q(approver=user) | Q(decided_by=user)).exists():
        return True
    return approval_step_for_decision(user=user, pk=approval.pk) is not None


def _label(approval: ApprovalRequest) -> ApprovalRequest:
    transition = TRANSITIONS.get(approval.transition)
    approval.action_label = transition.label if transition else approval.transition
    return approval


def _context(request) -> dict:
    user = request.user
    queue = list(approval_queue(user=user))
    history = approval_history(user=user)
    mine = approvals_requested_by(user=user)
    for step in [*queue, *history]:
        _label(step.request)
    for approval in mine:
        _label(approval)
    return {"queue": queue, "history": history, "mine": mine}


@login_required
@require_GET
def approval_list(request):
    if not _may_use(request.user):
        raise PermissionDenied
    context = _context(request)
    if is_fragment(request):
        return render(request, f"{TEMPLATE}#approval-queue", context)
    return render(request, TEMPLATE, context)


def _summary(approval: ApprovalRequest) -> list:
    asset = approval.asset
    return [
        (_("Asset"), f"{asset.tag} {asset.name}"),
        (_("Action"), TRANSITIONS[approval.transition].label),
        (_("Requested by"), approval.requested_by),
        (_("Reason"), approval.reason),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def approval_decide(request, pk: int):
    """The decision dialog. 403 for a user who may not decide the open step; a request that
    is already decided shows why instead of the buttons. The service has the last word."""
    user = request.user
    if not _may_use(user):
        raise PermissionDenied
    approval = get_object_or_404(
        ApprovalRequest.objects.select_related("asset", "requested_by"), pk=pk
    )
    # Someone with nothing to do with the request learns nothing of it (not even once it is
    # decided, when the dialog would show its summary).
    if not _involved(user, approval):
        raise PermissionDenied
    closed = ""
    if request.method == "GET":
        if approval.state != ApprovalRequest.State.PENDING:
            closed = _("This request has already been decided: %(state)s.") % {
                "state": approval.get_state_display()
            }
        elif approval_step_for_decision(user=user, pk=pk) is None:
            raise PermissionDenied
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.approval_decide(
                approval=approval,
                actor=user,
                approve=form.approve,
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            text = _("Approved: %(asset)s.") if form.approve else _("Rejected: %(asset)s.")
            messages.success(request, text % {"asset": approval.asset.tag})
            return done(
                request,
                url=reverse("approvals:list"),
                event=DECIDED,
                regions=[f"{TEMPLATE}#approval-queue", f"{TEMPLATE}#approval-history"],
                context=_context(request),
            )
    return form_dialog(
        request,
        form=form,
        title=_("Decide: %(action)s") % {"action": _label(approval).action_label},
        action=reverse("approvals:decide", args=[pk]),
        back_url=reverse("approvals:list"),
        decision=True,
        summary=_summary(approval),
        closed=closed,
    )


@login_required
@require_GET
def approval_detail(request, pk: int):
    """The steps of one request: for its requester and whoever decided or may decide it."""
    approval = get_object_or_404(ApprovalRequest.objects.select_related("asset"), pk=pk)
    steps = approval_steps(approval=approval)
    if not _involved(request.user, approval, steps):
        raise Http404
    return render(
        request, "assets/approval_detail.html", {"approval": _label(approval), "steps": steps}
    )


@login_required
@require_POST
def approval_cancel(request, pk: int):
    approval = get_object_or_404(ApprovalRequest, pk=pk, requested_by=request.user)
    try:
        services.approval_cancel(approval=approval, actor=request.user)
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
    else:
        messages.success(request, _("Request withdrawn."))
    return done(
        request,
        url=reverse("approvals:list"),
        event=DECIDED,
        regions=[f"{TEMPLATE}#approval-mine"],
        context=_context(request),
    )
