"""Approvals of the lifecycle actions that need one: ``request_disposal`` and ``report_lost``.

A request has the steps of ``settings.APPROVAL_STEPS`` (default ``["dept_head", "clerk"]``):
the ``dept_head`` step is named to the head of the asset's department (the nearest head up
the department tree; the step is recorded as skipped when there is none), the ``clerk`` step
may be decided by any asset clerk. Who may decide is answered by
``assets.selectors_workflow.approval_step_may_decide``.

- ``request_disposal`` moves the asset to pending disposal at once; final approval makes
  ``dispose`` possible; rejection (or the requester's cancellation) runs the internal
  ``reject_disposal`` back to the state before.
- ``report_lost`` changes nothing until the final approval, which runs the transition;
  rejection changes nothing.
- ``repair_failed`` (no approval of its own) moves the asset to pending disposal and opens
  the same disposal request through ``approval_open``: once approved the asset can be
  disposed of; a rejection returns it to stock (``previous_status`` in stock, since the
  repair is over).

Status changes go through ``asset_transition`` only. Events are sent after commit.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from itassets.roles import CLERK, DEPT_HEAD

from .. import signals
from ..lifecycle import TRANSITIONS, Status, TransitionNotAllowed, target_of
from ..models import ApprovalRequest, ApprovalStep, Asset
from ..selectors_workflow import (
    APPROVE_PERMISSION,
    approval_step_may_decide,
    department_head_user,
)
from .lifecycle import asset_transition, jsonable

STEP_ROLES = (DEPT_HEAD, CLERK)
REQUEST_DISPOSAL = "request_disposal"
REPORT_LOST = "report_lost"
REJECT_DISPOSAL = "reject_disposal"


def approval_step_roles() -> list[str]:
    """The configured step roles, in order (``settings.APPROVAL_STEPS``)."""
    roles = [str(r).strip() for r in settings.APPROVAL_STEPS if str(r).strip()]
    unknown = [r for r in roles if r not in STEP_ROLES]
    if not roles or unknown:
        raise ImproperlyConfigured(
            f"APPROVAL_STEPS must list one or more of {', '.join(STEP_ROLES)}; got {roles!r}"
        )
    return roles


def _runner(actor, transition: str):
    """The actor the approval's own transition is recorded with.

    The approval already authorised the decision. ``asset_transition`` lets an approver
    (``assets.approve_asset_request``) run it with the approval in hand; a named approver
    without that permission runs it as the system (the step still records who decided)."""
    permission = TRANSITIONS[transition].permission
    if actor is not None and (actor.has_perm(permission) or actor.has_perm(APPROVE_PERMISSION)):
        return actor
    return None


def _plan_steps(approval: ApprovalRequest, asset: Asset) -> list[ApprovalStep]:
    steps = []
    for number, role in enumerate(approval_step_roles(), start=1):
        step = ApprovalStep(request=approval, number=number, role=role)
        if role == DEPT_HEAD:
            step.approver = department_head_user(asset.department)
            if step.approver is None:
                step.decision = ApprovalStep.Decision.SKIPPED
        steps.append(step)
    if all(s.decision == ApprovalStep.Decision.SKIPPED for s in steps):
        # Nobody left to decide (one dept_head step, no head): an asset clerk decides.
        steps.append(ApprovalStep(request=approval, number=len(steps) + 1, role=CLERK))
    return steps


def _send_on_commit(signal, **kwargs) -> None:
    transaction.on_commit(lambda: signal.send(sender=ApprovalRequest, **kwargs))


def approval_open(
    *,
    asset: Asset,
    transition: str,
    actor,
    previous_status: str,
    reason: str = "",
    data: dict | None = None,
) -> ApprovalRequest:
    """Record an approval request for ``transition`` of ``asset`` and plan its steps; runs no
    transition and checks no permission (the caller has). ``asset`` must be locked.

    Shared by ``approval_request`` and by ``asset_transition("repair_failed")``, which moves
    the asset to pending disposal itself and opens the same disposal approval here.
    ``previous_status`` is where a rejection of a disposal request returns the asset.
    Raises ValidationError when another approval of the asset is pending.
    """
    pending = list(
        ApprovalRequest.objects.select_for_update().filter(
            asset=asset, state=ApprovalRequest.State.PENDING
        )
    )
    for stale in pending:
        # A disposal request whose asset has left pending disposal by other means
        # (cancel_disposal) is over.
        if stale.transition == REQUEST_DISPOSAL and asset.status != Status.PENDING_DISPOSAL:
            stale.state = ApprovalRequest.State.CANCELLED
            stale.decided_at = timezone.now()
            stale.save(update_fields=["state", "decided_at"])
        else:
            raise ValidationError(
                _("An approval for this asset is already pending: %(action)s.")
                % {"action": TRANSITIONS[stale.transition].label}
            )
    approval = ApprovalRequest.objects.create(
        asset=asset,
        transition=transition,
        previous_status=previous_status,
        requested_by=actor,
        reason=(reason or (data or {}).get("reason") or "").strip(),
        payload=jsonable(dict(data or {})),
    )
    steps = _plan_steps(approval, asset)
    ApprovalStep.objects.bulk_create(steps)
    approval.current_step = next(
        s.number for s in steps if s.decision == ApprovalStep.Decision.PENDING
    )
    approval.save(update_fields=["current_step"])
    _send_on_commit(signals.approval_requested, approval_id=approval.pk)
    return approval


@transaction.atomic
def approval_request(
    *, asset: Asset, transition: str, actor, reason: str = "", data: dict | None = None
) -> ApprovalRequest:
    """Start an approval for ``transition`` of ``asset``.

    ``request_disposal`` moves the asset to pending disposal now (through
    ``asset_transition``); ``report_lost`` only records the request.
    """
    t = TRANSITIONS.get(transition)
    if t is None or not t.needs_approval:
        raise ValidationError(
            _("“%(transition)s” does not go through an approval.") % {"transition": transition}
        )
    if actor is None or not actor.has_perm(t.permission):
        raise PermissionDenied
    locked = Asset.objects.select_for_update().get(pk=asset.pk)
    try:
        target_of(transition, locked.status)
    except TransitionNotAllowed as exc:
        raise ValidationError(str(exc)) from exc
    approval = approval_open(
        asset=locked,
        transition=transition,
        actor=actor,
        previous_status=locked.status,
        reason=reason,
        data=data,
    )
    if transition == REQUEST_DISPOSAL:
        asset_transition(
            asset=locked,
            transition=transition,
            actor=actor,
            note=approval.reason,
            data=data,
            approval=approval,
        )
    return approval


def _lock_pending(approval: ApprovalRequest) -> ApprovalRequest:
    locked = ApprovalRequest.objects.select_for_update().select_related("asset").get(pk=approval.pk)
    if locked.state != ApprovalRequest.State.PENDING:
        raise ValidationError(
            _("This request has already been decided: %(state)s.")
            % {"state": locked.get_state_display()}
        )
    return locked


@transaction.atomic
def approval_decide(
    *, approval: ApprovalRequest, actor, approve: bool, comment: str = ""
) -> ApprovalRequest:
    """Record the current step's decision; the final approval or a rejection acts on the
    asset (see the module docstring). Raises PermissionDenied for anyone but the step's
    approver and ValidationError when the request is no longer open to this user."""
    locked = _lock_pending(approval)
    step = locked.steps.select_for_update().get(number=locked.current_step)
    step.request = locked
    if locked.steps.filter(decided_by=actor).exclude(pk=step.pk).exists():
        raise ValidationError(_("You have already decided on this request."))
    if not approval_step_may_decide(step, actor):
        raise PermissionDenied
    if step.decision != ApprovalStep.Decision.PENDING:  # not reached while the request is open
        raise ValidationError(_("This step has already been decided."))
    if locked.transition == REQUEST_DISPOSAL and locked.asset.status != Status.PENDING_DISPOSAL:
        raise ValidationError(
            _("The asset is no longer pending disposal; this request is out of date.")
        )

    now = timezone.now()
    step.decision = ApprovalStep.Decision.APPROVED if approve else ApprovalStep.Decision.REJECTED
    step.decided_by = actor
    step.decided_at = now
    step.comment = (comment or "").strip()
    step.save(update_fields=["decision", "decided_by", "decided_at", "comment"])

    next_step = None
    if approve:
        next_step = (
            locked.steps.filter(number__gt=step.number, decision=ApprovalStep.Decision.PENDING)
            .order_by("number")
            .first()
        )
    if next_step is not None:
        locked.current_step = next_step.number
        locked.save(update_fields=["current_step"])
    else:
        locked.state = ApprovalRequest.State.APPROVED if approve else ApprovalRequest.State.REJECTED
        locked.decided_at = now
        locked.save(update_fields=["state", "decided_at"])
        note = step.comment or locked.reason
        if approve and locked.transition == REPORT_LOST:
            asset_transition(
                asset=locked.asset,
                transition=REPORT_LOST,
                actor=_runner(actor, REPORT_LOST),
                note=note,
                approval=locked,
            )
        elif not approve and locked.transition == REQUEST_DISPOSAL:
            asset_transition(
                asset=locked.asset,
                transition=REJECT_DISPOSAL,
                actor=_runner(actor, REJECT_DISPOSAL),
                note=note,
                data={"previous": locked.previous_status},
                approval=locked,
            )
    _send_on_commit(
        signals.approval_decided,
        approval_id=locked.pk,
        step_id=step.pk,
        decision=step.decision,
        final=next_step is None,
    )
    return locked


@transaction.atomic
def approval_cancel(*, approval: ApprovalRequest, actor, comment: str = "") -> ApprovalRequest:
    """The requester withdraws a pending request; a disposal request puts the asset back in
    the state it was in before."""
    if actor is None or approval.requested_by_id != actor.pk:
        raise PermissionDenied
    locked = _lock_pending(approval)
    locked.state = ApprovalRequest.State.CANCELLED
    locked.decided_at = timezone.now()
    locked.save(update_fields=["state", "decided_at"])
    if locked.transition == REQUEST_DISPOSAL and locked.asset.status == Status.PENDING_DISPOSAL:
        asset_transition(
            asset=locked.asset,
            transition=REJECT_DISPOSAL,
            actor=_runner(actor, REJECT_DISPOSAL),
            note=(comment or "").strip() or _("Disposal request withdrawn."),
            data={"previous": locked.previous_status},
            approval=locked,
        )
    _send_on_commit(
        signals.approval_decided,
        approval_id=locked.pk,
        step_id=None,
        decision=locked.state,
        final=True,
    )
    return locked
