"""Lifecycle writes: the one function that changes an asset's status, its bulk form, handover
receipts (交接单) and their acceptance, and repair orders.

``asset_transition`` is the only writer of ``Asset.status`` (and of the holder, department,
location, due date and disposal date a transition implies); a lint test enforces it. It runs
in one transaction: lock the asset row (``select_for_update``), check the permission and the
lifecycle guard (``assets.lifecycle``), validate the transition's data, write the asset and
its side records (repair order, handover, attachments), append exactly one ``AssetEvent`` and
send ``assets.signals.asset_transitioned`` after commit. Any error raises before anything is
saved or rolls the whole transaction back: an illegal transition changes nothing.

``data`` is a form's cleaned data: model instances (or their ids) for relations, ``date``
and ``Decimal`` values, uploaded files. The event's payload keeps it as JSON: relations as
``{"id", "name"}``, dates in ISO format, decimals as strings; files as the attachment they
became.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.db import models, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from ..lifecycle import (
    TRANSITIONS,
    DisposalMethod,
    Status,
    Transition,
    TransitionNotAllowed,
    target_of,
)
from ..models import (
    ApprovalRequest,
    Asset,
    AssetEvent,
    Attachment,
    Department,
    Handover,
    Location,
    Person,
    RepairOrder,
    Supplier,
)
from ..signals import asset_transitioned
from .register import _sequence_advance, attachment_add

logger = logging.getLogger(__name__)

# Transitions that produce a handover receipt (交接单).
HANDOVER_TRANSITIONS = frozenset({"assign", "loan", "transfer", "return"})
HANDOVER_PREFIX = "JJ"  # 交接
REPAIR_PREFIX = "WX"  # 维修
# With an approval in hand, an approver may run the approved transition (e.g. a department
# head giving the last approval of a loss report) without the transition's own permission.
APPROVER_PERMISSION = "assets.approve_asset_request"
# The fields a transition may write besides status (in this order in payload "from"/"to").
PLACEMENT_FIELDS = ("holder", "department", "location", "due_date")
_SAVED_FIELDS = [
    "status",
    "holder",
    "department",
    "location",
    "due_date",
    "disposed_on",
    "updated_by",
    "updated_at",
]
OPEN_REPAIR_STATES = (RepairOrder.State.REQUESTED, RepairOrder.State.IN_REPAIR)


# --- Helpers ----------------------------------------------------------------------------------


def document_number(kind: str, *, today: date | None = None) -> str:
    """The next number of a daily series: ``JJ-20261121-0001``, ``WX-20261121-0002``.

    Race-safe: the per-day sequence row is advanced by one upsert whose row lock lasts until
    the caller's transaction ends (see ``register._sequence_advance``); call it inside one.
    """
    prefix = document_number_prefix(kind, today=today or timezone.localdate())
    return document_number_format(prefix, _sequence_advance(prefix, 1))


def document_number_prefix(kind: str, *, today: date) -> str:
    """The daily series a number belongs to (``JJ-20261121-``): its sequence's prefix."""
    return f"{kind}-{today:%Y%m%d}-"


def document_number_format(prefix: str, value: int) -> str:
    """``prefix`` and the sequence value, at least four digits: ``JJ-20261121-0001``."""
    return f"{prefix}{value:04d}"


def repair_number_allocate(*, today: date | None = None) -> str:
    """The next repair order number (``WX-20261121-0001``); call inside a transaction."""
    return document_number(REPAIR_PREFIX, today=today)


def _transition(name: str) -> Transition:
    t = TRANSITIONS.get(name)
    if t is None:
        raise ValidationError(_("Unknown action “%(name)s”.") % {"name": name}, code="unknown")
    return t


def _check_permission(actor, t: Transition, approval=None) -> None:
    """``actor`` None is the system (tasks, migrations of data); a user needs the permission."""
    if actor is None or actor.has_perm(t.permission):
        return
    if approval is not None and actor.has_perm(APPROVER_PERMISSION):
        return
    raise PermissionDenied(
        _("You are not allowed to perform “%(transition)s”.") % {"transition": t.label}
    )


def _resolve(model: type[models.Model], value, *, key: str):
    """A model instance from an instance, an id or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, model):
        return value
    try:
        return model._default_manager.get(pk=value)
    except (model.DoesNotExist, ValueError, TypeError):
        raise ValidationError(
            {key: _("The selected %(model)s does not exist.") % {"model": model._meta.verbose_name}}
        ) from None


def _decimal(value, *, key: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError({key: _("Enter a number.")}) from None
    if number < 0:
        raise ValidationError({key: _("The amount cannot be negative.")})
    return number


def _date(value, *, key: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({key: _("Enter a valid date.")}) from None


def jsonable(value):
    """A form value as JSON: relations as id and name, ISO dates, decimals as strings."""
    if isinstance(value, models.Model):
        return {"id": value.pk, "name": str(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if not isinstance(v, File)}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def _placement(asset: Asset) -> dict:
    return {name: getattr(asset, name) for name in PLACEMENT_FIELDS}


@dataclass
class _Context:
    """What a transition's handler reads and writes."""

    asset: Asset  # the locked row
    transition: Transition
    actor: object
    data: dict
    from_status: str
    to_status: str = ""
    approval: ApprovalRequest | None = None
    repair: RepairOrder | None = None
    payload: dict = field(default_factory=dict)
    today: date = field(default_factory=timezone.localdate)

    def get(self, key: str, default=None):
        return self.data.get(key, default)


def _not_past(value: date | None, *, key: str, today: date) -> None:
    if value is not None and value < today:
        raise ValidationError({key: _("The date cannot be in the past.")})


def _not_future(value: date | None, *, key: str, today: date) -> None:
    if value is not None and value > today:
        raise ValidationError({key: _("The date cannot be in the future.")})


def _attach(ctx: _Context, upload, *, repair_order=None) -> Attachment | None:
    if not upload:
        return None
    try:
        att = attachment_add(
            actor=ctx.actor, asset=ctx.asset, upload=upload, kind=Attachment.Kind.OTHER
        )
    except ValidationError as exc:
        raise ValidationError({"attachment": exc.messages}) from None
    if repair_order is not None:
        att.repair_order = repair_order
        att.save(update_fields=["repair_order"])
    return att


def _close_open_repairs(ctx: _Context, *, result: str) -> None:
    """Cancel the asset's open repair orders (it was lost or disposed of meanwhile)."""
    for order in RepairOrder.objects.select_for_update().filter(
        asset=ctx.asset, state__in=OPEN_REPAIR_STATES
    ):
        order.state = RepairOrder.State.CANCELLED
        order.result = "\n".join(filter(None, [order.result, result]))
        order.save(update_fields=["state", "result"])


# --- One handler per transition ---------------------------------------------------------------
# Each validates its data (ValidationError keyed by form field) and writes the locked asset's
# fields and side records; ``ctx.payload`` gets what the event should remember beyond the data.


def _receive(ctx: _Context) -> None:
    location = _resolve(Location, ctx.get("location"), key="location")
    if location is not None:
        ctx.asset.location = location
    received_on = _date(ctx.get("received_on"), key="received_on")
    _not_future(received_on, key="received_on", today=ctx.today)


def _holder_and_department(ctx: _Context, *, holder_required: bool) -> tuple:
    holder = _resolve(Person, ctx.get("holder"), key="holder")
    department = _resolve(Department, ctx.get("department"), key="department")
    if holder_required and holder is None:
        raise ValidationError({"holder": _("Choose the person who borrows the asset.")})
    if holder is None and department is None:
        raise ValidationError({"holder": _("Choose a person or a department (or both).")})
    if holder is not None and not holder.is_active:
        raise ValidationError({"holder": _("%(person)s has left.") % {"person": holder}})
    if department is None and holder is not None:
        department = holder.department  # the using department follows the person by default
    return holder, department


def _assign(ctx: _Context, *, loan: bool = False) -> None:
    holder, department = _holder_and_department(ctx, holder_required=loan)
    due = _date(ctx.get("due_date"), key="due_date")
    if loan and due is None:
        raise ValidationError({"due_date": _("Enter the date the asset is due back.")})
    _not_past(due, key="due_date", today=ctx.today)
    location = _resolve(Location, ctx.get("location"), key="location")
    ctx.asset.holder, ctx.asset.department, ctx.asset.due_date = holder, department, due
    if location is not None:
        ctx.asset.location = location


def _loan(ctx: _Context) -> None:
    _assign(ctx, loan=True)


def _return(ctx: _Context) -> None:
    location = _resolve(Location, ctx.get("location"), key="location")
    if location is not None:
        ctx.asset.location = location
    # holder, department and due date are cleared for every arrival in stock (see below)


def _transfer(ctx: _Context) -> None:
    holder, department = _holder_and_department(ctx, holder_required=False)
    location = _resolve(Location, ctx.get("location"), key="location")
    due = _date(ctx.get("due_date"), key="due_date")
    _not_past(due, key="due_date", today=ctx.today)
    asset = ctx.asset
    unchanged = (
        holder == asset.holder
        and department == asset.department
        and (location is None or location == asset.location)
    )
    if unchanged:
        raise ValidationError(
            {"holder": _("The asset already has this user, department and location.")}
        )
    asset.holder, asset.department, asset.due_date = holder, department, due
    if location is not None:
        asset.location = location


def _send_to_repair(ctx: _Context) -> None:
    order = _resolve(RepairOrder, ctx.get("repair_order"), key="repair_order")
    if order is not None:  # take over a fault an employee reported
        order = RepairOrder.objects.select_for_update().get(pk=order.pk)
        if order.asset_id != ctx.asset.pk or order.state != RepairOrder.State.REQUESTED:
            raise ValidationError(
                {"repair_order": _("This repair report is not open for this asset.")}
            )
    fault = (ctx.get("fault") or "").strip()
    if order is None and not fault:
        raise ValidationError({"fault": _("Describe the fault.")})
    vendor = _resolve(Supplier, ctx.get("vendor"), key="vendor")
    expected = _decimal(ctx.get("expected_cost"), key="expected_cost")
    sent_on = _date(ctx.get("sent_on"), key="sent_on") or ctx.today
    _not_future(sent_on, key="sent_on", today=ctx.today)
    if order is None:
        order = RepairOrder(
            number=repair_number_allocate(today=ctx.today),
            asset=ctx.asset,
            reported_by=ctx.actor,
            fault=fault,
        )
    elif fault:
        order.fault = fault
    if order.reported_by_id and order.reported_by_id != getattr(ctx.actor, "pk", None):
        # taken over from a holder's report: the event says what they reported, and who
        reporter = order.reported_by
        ctx.payload["fault"] = order.fault
        ctx.payload["reported_by"] = reporter.get_full_name() or reporter.get_username()
    order.state = RepairOrder.State.IN_REPAIR
    order.vendor = vendor
    order.expected_cost = expected
    order.sent_on = sent_on
    order.previous_status = ctx.from_status
    order.save()
    ctx.repair = order
    ctx.payload["repair_order"] = jsonable(order)
    att = _attach(ctx, ctx.get("attachment"), repair_order=order)
    if att is not None:
        ctx.payload["attachment"] = {"id": att.pk, "name": att.original_name}


def _close_repair(ctx: _Context, state: str) -> None:
    actual = _decimal(ctx.get("actual_cost"), key="actual_cost")
    returned_on = _date(ctx.get("returned_on"), key="returned_on") or ctx.today
    _not_future(returned_on, key="returned_on", today=ctx.today)
    order = ctx.repair
    if order is None:  # in repair without an order (data from before repair orders existed)
        return
    if order.sent_on and returned_on < order.sent_on:
        raise ValidationError({"returned_on": _("The asset cannot come back before it was sent.")})
    order.state = state
    order.actual_cost = actual
    order.result = (ctx.get("result") or "").strip()
    order.returned_on = returned_on
    order.save(update_fields=["state", "actual_cost", "result", "returned_on"])
    ctx.payload["repair_order"] = jsonable(order)
    att = _attach(ctx, ctx.get("attachment"), repair_order=order)
    if att is not None:
        ctx.payload["attachment"] = {"id": att.pk, "name": att.original_name}


def _repair_done(ctx: _Context) -> None:
    _close_repair(ctx, RepairOrder.State.DONE)


def _repair_failed(ctx: _Context) -> None:
    """The repair is closed as failed and the asset goes to pending disposal with the same
    disposal approval ``request_disposal`` opens (so it can be disposed of once approved);
    a rejection returns it to stock."""
    from .approvals import REQUEST_DISPOSAL, approval_open

    _close_repair(ctx, RepairOrder.State.FAILED)
    order = ctx.repair
    result = (ctx.get("result") or "").strip()
    if order is not None:
        reason = _("Repair %(number)s failed: %(result)s") % {
            "number": order.number,
            "result": result or order.fault,
        }
    else:
        reason = result or _("The repair failed.")
    approval = approval_open(
        asset=ctx.asset,
        transition=REQUEST_DISPOSAL,
        actor=ctx.actor,
        previous_status=Status.IN_STOCK,
        reason=reason,
        data={"repair_order": order} if order is not None else None,
    )
    ctx.payload["approval"] = {"id": approval.pk}


def _dispose(ctx: _Context) -> None:
    method = ctx.get("method")
    if method not in DisposalMethod.values:
        raise ValidationError({"method": _("Choose how the asset is disposed of.")})
    ctx.payload["method_label"] = str(DisposalMethod(method).label)
    _decimal(ctx.get("proceeds"), key="proceeds")
    disposed_on = _date(ctx.get("disposed_on"), key="disposed_on") or ctx.today
    _not_future(disposed_on, key="disposed_on", today=ctx.today)
    asset = ctx.asset
    asset.disposed_on = disposed_on
    asset.holder = asset.department = asset.due_date = None
    _close_open_repairs(ctx, result=_("Cancelled: the asset was disposed of."))
    att = _attach(ctx, ctx.get("certificate"))
    if att is not None:
        ctx.payload["certificate"] = {"id": att.pk, "name": att.original_name}


def _cancel_disposal(ctx: _Context) -> None:
    # A disposal approval must not outlive the disposal it was for: a later trip to
    # "pending disposal" (e.g. a failed repair) needs a new one.
    ApprovalRequest.objects.filter(
        asset=ctx.asset,
        transition="request_disposal",
        state__in=(ApprovalRequest.State.PENDING, ApprovalRequest.State.APPROVED),
    ).update(state=ApprovalRequest.State.CANCELLED, decided_at=timezone.now())


def _report_lost(ctx: _Context) -> None:
    _close_open_repairs(ctx, result=_("Cancelled: the asset was reported lost."))


def _relocate(ctx: _Context) -> None:
    location = _resolve(Location, ctx.get("location"), key="location")
    if location is None:
        raise ValidationError({"location": _("Choose where the asset is now.")})
    if location == ctx.asset.location:
        raise ValidationError({"location": _("The asset is already at this location.")})
    ctx.asset.location = location


def _found(ctx: _Context) -> None:
    _receive(ctx)


def _nothing(ctx: _Context) -> None:
    return None


_HANDLERS = {
    "receive": _receive,
    "assign": _assign,
    "loan": _loan,
    "return": _return,
    "transfer": _transfer,
    "relocate": _relocate,
    "send_to_repair": _send_to_repair,
    "repair_done": _repair_done,
    "repair_failed": _repair_failed,
    "request_disposal": _nothing,
    "dispose": _dispose,
    "cancel_disposal": _cancel_disposal,
    "report_lost": _report_lost,
    "found": _found,
    "reject_disposal": _nothing,
}


# --- Guards -----------------------------------------------------------------------------------


def _open_repair(asset: Asset) -> RepairOrder | None:
    return (
        RepairOrder.objects.select_for_update()
        .filter(asset=asset, state=RepairOrder.State.IN_REPAIR)
        .order_by("-id")
        .first()
    )


def _previous(t: Transition, data: dict, approval, repair) -> str | None:
    """Where a "back to before" transition returns (repair order or approval remembers it)."""
    if t.name == "repair_done":
        return repair.previous_status if repair else None
    if t.name == "reject_disposal":
        return data.get("previous") or (approval.previous_status if approval else None)
    return None


def _check_approval(t: Transition, asset: Asset, approval) -> None:
    if approval is not None:
        expected = "request_disposal" if t.name == "reject_disposal" else t.name
        if approval.asset_id != asset.pk or approval.transition != expected:
            raise ValidationError(_("The approval request is for another asset or action."))
        closed = (ApprovalRequest.State.REJECTED, ApprovalRequest.State.CANCELLED)
        if t.name != "reject_disposal" and approval.state in closed:
            raise ValidationError(_("The approval request was rejected or cancelled."))
    elif t.needs_approval:
        raise ValidationError(
            _("“%(transition)s” needs approval: submit an approval request instead.")
            % {"transition": t.label},
            code="needs_approval",
        )
    if t.name == "dispose":
        latest = (
            ApprovalRequest.objects.filter(asset=asset, transition="request_disposal")
            .order_by("-requested_at", "-id")
            .only("state")
            .first()
        )
        if latest is None or latest.state != ApprovalRequest.State.APPROVED:
            raise ValidationError(
                _("The asset can be disposed of only after its disposal request is approved."),
                code="not_approved",
            )


# --- Handover receipts ------------------------------------------------------------------------


def _handover_create(
    *, transition: str, actor, before: dict, holder, department, location
) -> Handover:
    """A receipt from the previous holder (or stock) to the new one (or stock, on return)."""
    to_person = None if transition == "return" else holder
    return Handover.objects.create(
        number=document_number(HANDOVER_PREFIX),
        transition=transition,
        from_person=before.get("holder"),
        from_department=before.get("department"),
        to_person=to_person,
        to_department=None if transition == "return" else department,
        location=location,
        created_by=actor,
        # The recipient confirms receipt in self-service; only someone with a login can.
        needs_acceptance=bool(to_person is not None and to_person.user_id),
    )


def handover_pdf_store(*, handover: Handover) -> bool:
    """Render the receipt's PDF and keep it in ``Handover.pdf`` (default storage).

    Called after the transaction that made (or confirmed) the handover has committed
    (``handover_pdf_store_on_commit``): no file is written for a transaction that rolls back,
    and no row lock (the asset, the day's number sequence) is held while rendering and
    uploading. A failure (e.g. the CJK font missing, storage down) is logged and leaves the
    PDF empty: the download view then renders it on demand. Returns whether it was stored.
    """
    from ..handover_pdf import render_handover

    try:
        pdf = render_handover(handover)
        old = handover.pdf.name if handover.pdf else ""
        field = handover.pdf
        field.save(f"{handover.number}.pdf", ContentFile(pdf), save=False)
        Handover.objects.filter(pk=handover.pk).update(pdf=field.name)
        if old and old != field.name:
            field.storage.delete(old)
    except Exception:
        logger.exception("handover %s: storing the PDF failed", handover.number)
        return False
    return True


def _handover_pdf_store_by_id(handover_id: int) -> None:
    handover = (
        Handover.objects.select_related(
            "from_person",
            "from_department",
            "to_person",
            "to_department",
            "location",
            "created_by",
            "accepted_by",
        )
        .filter(pk=handover_id)
        .first()
    )
    if handover is not None:
        handover_pdf_store(handover=handover)


def handover_pdf_store_on_commit(handover_id: int) -> None:
    """Store the receipt's PDF once the current transaction has committed."""
    transaction.on_commit(lambda: _handover_pdf_store_by_id(handover_id))


@transaction.atomic
def handover_accept(*, handover: Handover, actor) -> Handover:
    """The recipient confirms receipt (验收确认): records who and when, re-renders the PDF."""
    locked = Handover.objects.select_for_update().select_related("to_person").get(pk=handover.pk)
    person = locked.to_person
    if person is None or actor is None or person.user_id != actor.pk:
        raise PermissionDenied(_("Only the recipient can confirm receipt."))
    if not locked.needs_acceptance:
        raise ValidationError(_("This handover needs no confirmation."), code="not_needed")
    if locked.accepted_at is not None:
        raise ValidationError(
            _("Receipt was already confirmed on %(date)s.")
            % {"date": timezone.localtime(locked.accepted_at).strftime("%Y-%m-%d %H:%M")},
            code="already_accepted",
        )
    locked.accepted_by = actor
    locked.accepted_at = timezone.now()
    locked.save(update_fields=["accepted_by", "accepted_at"])
    handover_pdf_store_on_commit(locked.pk)  # the PDF shows who confirmed and when
    handover.accepted_by, handover.accepted_at = locked.accepted_by, locked.accepted_at
    return locked


# --- The transition ---------------------------------------------------------------------------


def _send_signal(event_id: int) -> None:
    for receiver, response in asset_transitioned.send_robust(sender=Asset, event_id=event_id):
        if isinstance(response, Exception):
            logger.error(
                "asset_transitioned receiver %r failed for event %s",
                receiver,
                event_id,
                exc_info=response,
            )


@transaction.atomic
def asset_transition(
    *,
    asset: Asset,
    transition: str,
    actor,
    note: str = "",
    data: dict | None = None,
    approval: ApprovalRequest | None = None,
    handover: Handover | None = None,
) -> AssetEvent:
    """Run one named transition on ``asset`` and record it; returns the new ``AssetEvent``.

    Raises ``PermissionDenied`` when ``actor`` lacks the transition's permission and
    ``ValidationError`` (translatable) when the transition is not possible from the asset's
    status, needs an approval it was not given, or its data are invalid. ``handover`` (bulk
    transitions) attaches the event to a receipt the caller created; otherwise assign, loan,
    transfer and return create their own. ``asset`` is updated in place.
    """
    t = _transition(transition)
    _check_permission(actor, t, approval)
    data = dict(data or {})
    locked = Asset.objects.select_for_update().get(pk=asset.pk)
    from_status = locked.status
    repair = _open_repair(locked) if t.name in ("repair_done", "repair_failed") else None
    try:
        to_status = target_of(t.name, from_status, previous=_previous(t, data, approval, repair))
    except TransitionNotAllowed as exc:
        raise ValidationError(str(exc), code="not_allowed") from None
    _check_approval(t, locked, approval)

    ctx = _Context(
        asset=locked,
        transition=t,
        actor=actor,
        data=data,
        from_status=from_status,
        to_status=to_status,
        approval=approval,
        repair=repair,
    )
    before = _placement(locked)
    _HANDLERS[t.name](ctx)
    if to_status == Status.IN_STOCK:  # back in stock: nobody holds or uses it
        locked.holder = locked.department = locked.due_date = None
    locked.status = to_status
    locked.updated_by = actor
    locked._change_reason = str(t.label)
    locked.save(update_fields=_SAVED_FIELDS)
    after = _placement(locked)

    own_handover = False
    if t.name in HANDOVER_TRANSITIONS and handover is None:
        handover = _handover_create(
            transition=t.name,
            actor=actor,
            before=before,
            holder=locked.holder,
            department=locked.department,
            location=locked.location,
        )
        own_handover = True
    payload = jsonable({k: v for k, v in data.items() if not isinstance(v, File)})
    payload.update(ctx.payload)
    if approval is not None:
        payload["approval"] = {"id": approval.pk}
    if before != after:
        payload["from"] = jsonable(before)
        payload["to"] = jsonable(after)
    event = AssetEvent.objects.create(
        asset=locked,
        transition=t.name,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        note=(note or "").strip(),
        payload=payload,
        handover=handover if t.name in HANDOVER_TRANSITIONS else None,
    )
    if own_handover:
        handover_pdf_store_on_commit(handover.pk)
    transaction.on_commit(lambda: _send_signal(event.pk))

    for name in _SAVED_FIELDS:  # the caller's instance shows the new state
        setattr(asset, name, getattr(locked, name))
    return event


def _common(values: list):
    """The value all items share, else None."""
    first = values[0] if values else None
    return first if all(v == first for v in values) else None


@transaction.atomic
def asset_transition_bulk(
    *,
    assets: Iterable[Asset],
    transition: str,
    actor,
    note: str = "",
    data: dict | None = None,
) -> list[AssetEvent]:
    """Run one transition on several assets: all of them or none.

    Raises ``ValidationError({tag: [messages]})`` listing every asset that failed (nothing is
    saved then). Assign, loan, transfer and return share one handover receipt listing all
    the assets. Transitions that need approval (request disposal, report lost) start one
    approval request per asset (``approvals.approval_request``); the list of events then
    holds the events those requests wrote (request disposal) or none (report lost).
    """
    t = _transition(transition)
    _check_permission(actor, t)
    ids = sorted({a.pk for a in assets})
    if not ids:
        raise ValidationError(_("Select at least one asset."), code="empty")
    # Lock in id order: two bulk runs over overlapping selections cannot deadlock.
    locked = list(Asset.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    data = dict(data or {})

    handover = None
    if t.name in HANDOVER_TRANSITIONS:
        ok = [a for a in locked if a.status in t.sources]
        if ok:
            holder = _resolve(Person, data.get("holder"), key="holder")
            department = _resolve(Department, data.get("department"), key="department")
            if department is None and holder is not None:
                department = holder.department
            location = _resolve(Location, data.get("location"), key="location")
            handover = _handover_create(
                transition=t.name,
                actor=actor,
                before={
                    "holder": _common([a.holder for a in ok]),
                    "department": _common([a.department for a in ok]),
                },
                holder=holder,
                department=department,
                location=location or _common([a.location for a in ok]),
            )

    events: list[AssetEvent] = []
    errors: dict[str, list[str]] = {}
    for asset in locked:
        try:
            with transaction.atomic():
                if t.needs_approval:
                    from .approvals import approval_request

                    approval = approval_request(
                        asset=asset,
                        transition=t.name,
                        actor=actor,
                        reason=data.get("reason") or note,
                        data=data,
                    )
                    event = approval.asset.events.filter(transition=t.name).first()
                    if event is not None and t.name == "request_disposal":
                        events.append(event)
                else:
                    events.append(
                        asset_transition(
                            asset=asset,
                            transition=t.name,
                            actor=actor,
                            note=note,
                            data=data,
                            handover=handover,
                        )
                    )
        except ValidationError as exc:
            errors[asset.tag] = exc.messages
    if errors:
        raise ValidationError(errors)
    if handover is not None:
        handover_pdf_store_on_commit(handover.pk)
    return events
