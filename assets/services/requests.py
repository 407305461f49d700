"""Employees' requests: asset requests (申领), fault reports (报修) and return requests.

An asset request moves submitted → approved / rejected (the requester's department head)
→ fulfilled (an asset clerk assigns an in-stock asset with the ``assign`` transition) or
cancelled (the requester, while submitted or approved). Any other move is refused with a
ValidationError and changes nothing. Every step is announced after commit
(``assets.signals``) for notifications.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import signals
from ..models import (
    Asset,
    AssetEvent,
    AssetModel,
    AssetRequest,
    Category,
    Location,
    Person,
    RepairOrder,
)
from ..selectors_workflow import (
    HELD_STATUSES,
    RETURN_REQUESTED,
    asset_request_may_decide,
    asset_request_may_fulfil,
    return_requested,
)
from .lifecycle import asset_transition, repair_number_allocate

State = AssetRequest.State


def _announce(request: AssetRequest) -> None:
    request_id, state = request.pk, request.state
    transaction.on_commit(
        lambda: signals.asset_request_changed.send(
            sender=AssetRequest, request_id=request_id, state=state
        )
    )


def _lock(request: AssetRequest) -> AssetRequest:
    return (
        AssetRequest.objects.select_for_update()
        .select_related("requester", "department", "category")
        .get(pk=request.pk)
    )


def _refuse_state(request: AssetRequest, action: str) -> None:
    raise ValidationError(
        _("This request cannot be %(action)s: it is “%(state)s”.")
        % {"action": action, "state": request.get_state_display()}
    )


@transaction.atomic
def asset_request_submit(
    *,
    actor,
    category: Category,
    model: AssetModel | None = None,
    reason: str,
    needed_by: date | None = None,
) -> AssetRequest:
    """An employee asks for an asset of ``category`` (and ``model`` if it matters)."""
    person = Person.objects.filter(user=actor, is_active=True).first() if actor else None
    if person is None:
        raise PermissionDenied(_("Only employees with a staff record can request assets."))
    errors = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Please give a reason.")]
    if not category.is_active:
        errors["category"] = [_("This category is no longer in use.")]
    if model is not None and not (
        model.is_active and model.category.path.startswith(category.path)
    ):
        errors["model"] = [_("Choose a model of the chosen category.")]
    if needed_by is not None and needed_by < timezone.localdate():
        errors["needed_by"] = [_("The date is in the past.")]
    if errors:
        raise ValidationError(errors)
    request = AssetRequest.objects.create(
        requester=person,
        department=person.department,
        category=category,
        model=model,
        reason=reason,
        needed_by=needed_by,
    )
    _announce(request)
    return request


@transaction.atomic
def asset_request_decide(
    *, request: AssetRequest, actor, approve: bool, comment: str = ""
) -> AssetRequest:
    """The requester's department head (or an administrator) approves or rejects."""
    locked = _lock(request)
    if not asset_request_may_decide(locked, actor):
        raise PermissionDenied
    if locked.state != State.SUBMITTED:
        _refuse_state(locked, _("approved or rejected"))
    locked.state = State.APPROVED if approve else State.REJECTED
    locked.decided_by = actor
    locked.decided_at = timezone.now()
    locked.decision_comment = (comment or "").strip()
    locked.save(update_fields=["state", "decided_by", "decided_at", "decision_comment"])
    _announce(locked)
    return locked


@transaction.atomic
def asset_request_fulfil(
    *,
    request: AssetRequest,
    actor,
    asset: Asset,
    location: Location | None = None,
    note: str = "",
) -> AssetRequest:
    """An asset clerk assigns ``asset`` (in stock, of the requested category and model) to
    the requester with the ``assign`` transition."""
    if not asset_request_may_fulfil(actor):
        raise PermissionDenied
    locked = _lock(request)
    if locked.state != State.APPROVED:
        _refuse_state(locked, _("fulfilled"))
    asset = Asset.objects.select_related("category").get(pk=asset.pk)
    if not asset.category.path.startswith(locked.category.path):
        raise ValidationError({"asset": [_("The asset is not of the requested category.")]})
    if locked.model_id and asset.model_id != locked.model_id:
        raise ValidationError({"asset": [_("The asset is not of the requested model.")]})
    asset_transition(
        asset=asset,
        transition="assign",
        actor=actor,
        note=(note or "").strip(),
        data={
            "holder": locked.requester,
            "department": locked.department,
            "location": location if location is not None else asset.location,
            "asset_request": locked,  # the timeline shows the request and who approved it
        },
    )
    locked.state = State.FULFILLED
    locked.fulfilled_asset = asset
    locked.fulfilled_by = actor
    locked.fulfilled_at = timezone.now()
    locked.save(update_fields=["state", "fulfilled_asset", "fulfilled_by", "fulfilled_at"])
    _announce(locked)
    return locked


@transaction.atomic
def asset_request_cancel(*, request: AssetRequest, actor) -> AssetRequest:
    """The requester withdraws a request that is not yet fulfilled or rejected."""
    locked = _lock(request)
    if actor is None or locked.requester.user_id != actor.pk:
        raise PermissionDenied
    if locked.state not in (State.SUBMITTED, State.APPROVED):
        _refuse_state(locked, _("cancelled"))
    locked.state = State.CANCELLED
    locked.save(update_fields=["state"])
    _announce(locked)
    return locked


# --- Holder's requests on an asset --------------------------------------------------------


def _lock_held(asset: Asset, actor) -> Asset:
    """The asset, locked, if ``actor`` holds it and has it (in use or on loan)."""
    locked = Asset.objects.select_for_update().select_related("holder").get(pk=asset.pk)
    if actor is None or locked.holder is None or locked.holder.user_id != actor.pk:
        raise PermissionDenied
    if locked.status not in HELD_STATUSES:
        raise ValidationError(
            _("Not possible while the asset is “%(status)s”.")
            % {"status": locked.get_status_display()}
        )
    return locked


@transaction.atomic
def repair_report(*, actor, asset: Asset, fault: str) -> RepairOrder:
    """The holder reports a fault: a repair order in state "reported" for the clerks."""
    fault = (fault or "").strip()
    if not fault:
        raise ValidationError({"fault": [_("Please describe the fault.")]})
    locked = _lock_held(asset, actor)
    if RepairOrder.objects.filter(asset=locked, state=RepairOrder.State.REQUESTED).exists():
        raise ValidationError(_("A fault has already been reported for this asset."))
    order = RepairOrder.objects.create(
        number=repair_number_allocate(),
        asset=locked,
        state=RepairOrder.State.REQUESTED,
        fault=fault,
        reported_by=actor,
    )
    transaction.on_commit(
        lambda: signals.repair_reported.send(sender=RepairOrder, repair_id=order.pk)
    )
    return order


@transaction.atomic
def asset_return_request(*, actor, asset: Asset, note: str = "") -> AssetEvent:
    """The holder asks to return the asset: an event without a status change that clerks
    see on the unconfirmed-assignments page; the ``return`` transition closes it."""
    locked = _lock_held(asset, actor)
    if return_requested(asset=locked):
        raise ValidationError(_("You have already asked to return this asset."))
    event = AssetEvent.objects.create(
        asset=locked,
        transition=RETURN_REQUESTED,
        from_status=locked.status,
        to_status=locked.status,
        actor=actor,
        note=(note or "").strip(),
    )
    transaction.on_commit(
        lambda: signals.asset_return_requested.send(sender=Asset, event_id=event.pk)
    )
    return event
