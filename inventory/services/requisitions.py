"""Requisitions (领用申请): submit, decide, fulfil, cancel.

submitted → approved / rejected (the requester's department head, or an administrator) →
partly / fully issued (a keeper posts issue documents against it) or cancelled. Each step is
announced after commit (``inventory.signals.requisition_changed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from assets.models import Person

from ..models import Document, Requisition, RequisitionLine, Warehouse
from ..selectors import requisition_may_decide
from .common import (
    MAX_LINES,
    PERM_FULFIL,
    DocumentInvalid,
    PostResult,
    ReqState,
    Type,
    _is_admin,
    _require_perm,
)
from .documents import _announce, document_create_and_post, document_post
from .validation import _line_item, _lookup_items, parse_quantity

# --- Requisitions -----------------------------------------------------------------------------


def _lock_requisition(requisition: Requisition) -> Requisition:
    return (
        Requisition.objects.select_for_update()
        .select_related("requester", "department")
        .get(pk=requisition.pk)
    )


def _refuse_state(requisition: Requisition, action: str):
    raise ValidationError(
        _("This requisition cannot be %(action)s: it is “%(state)s”.")
        % {"action": action, "state": requisition.get_state_display()},
        code="state",
    )


@transaction.atomic
def requisition_submit(
    *, actor, lines: Sequence[Mapping], reason: str, for_department: bool = False
) -> Requisition:
    """An employee asks for items: ``lines`` of ``item`` (Item or id) and ``quantity``."""
    person = Person.objects.filter(user=actor, is_active=True).first() if actor else None
    if person is None:
        raise PermissionDenied(_("Only employees with a staff record can request items."))
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Please give a reason.")]
    if for_department and person.department_id is None:
        errors["for_department"] = [_("You do not belong to a department.")]
    line_errors: dict[int, dict[str, list]] = {}
    parsed: list[RequisitionLine] = []
    lines = list(lines or [])
    if not lines:
        errors.setdefault("lines", []).append(_("Add at least one item."))
    elif len(lines) > MAX_LINES:
        errors.setdefault("lines", []).append(
            _("A document has at most %(n)s lines.") % {"n": MAX_LINES}
        )
        lines = []
    by_id, by_code = _lookup_items(lines)
    seen: set[int] = set()
    for index, raw in enumerate(lines):
        errs: dict[str, list] = {}
        item = _line_item(raw, by_id, by_code, errs)
        quantity = None
        try:
            quantity = parse_quantity(raw.get("quantity"), item)
        except ValidationError as exc:
            errs.setdefault("quantity", []).extend(exc.messages)
        if item is not None and item.pk in seen:
            errs.setdefault("item", []).append(
                _("%(item)s is listed twice; enter one line per item.") % {"item": item}
            )
        if errs:
            line_errors[index] = errs
            continue
        seen.add(item.pk)
        parsed.append(RequisitionLine(item=item, quantity=quantity))
    if errors or line_errors:
        raise DocumentInvalid(errors, line_errors)
    requisition = Requisition.objects.create(
        requester=person,
        department=person.department,
        for_department=bool(for_department),
        reason=reason,
    )
    for line in parsed:
        line.requisition = requisition
    RequisitionLine.objects.bulk_create(parsed)
    _announce(requisition)
    return requisition


@transaction.atomic
def requisition_decide(
    *, requisition: Requisition, actor, approve: bool, comment: str = ""
) -> Requisition:
    """The requester's department head (or an administrator) approves or rejects."""
    locked = _lock_requisition(requisition)
    if not requisition_may_decide(locked, actor):
        raise PermissionDenied(_("Only the requester's department head can decide."))
    if locked.state != ReqState.SUBMITTED:
        _refuse_state(locked, _("approved or rejected"))
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationError({"comment": [_("Say why the requisition is rejected.")]})
    locked.state = ReqState.APPROVED if approve else ReqState.REJECTED
    locked.decided_by = actor
    locked.decided_at = timezone.now()
    locked.comment = comment
    locked.save(update_fields=["state", "decided_by", "decided_at", "comment", "updated_at"])
    _announce(locked)
    return locked


def requisition_fulfil(
    *,
    requisition: Requisition,
    actor,
    warehouse: Warehouse,
    lines: Mapping | Sequence[Mapping] | None = None,
    idempotency_key: str | None = None,
    reason: str = "",
) -> PostResult:
    """The keeper issues some or all of what is still to be issued, from ``warehouse``, with
    one posted issue document linked to the requisition (state → partly / fully issued).

    ``lines``: ``{item or item id: quantity}`` or mappings of ``item`` and ``quantity``;
    None issues everything remaining. All or nothing: a shortage changes nothing.
    """
    _require_perm(actor, PERM_FULFIL, _("You are not allowed to issue items for requisitions."))
    with transaction.atomic():
        locked = _lock_requisition(requisition)
        if not locked.is_open:
            # A replay of the fulfilment that closed it answers like the first time.
            key = (idempotency_key or "").strip()[:64] or None
            first = Document.objects.filter(idempotency_key=key, requisition=locked).first()
            if key is None or first is None:
                _refuse_state(locked, _("issued"))
            return document_post(document=first, actor=actor)
        if lines is None:
            wanted = [
                {"item": rl.item, "quantity": rl.remaining}
                for rl in locked.lines.select_related("item")
                if rl.remaining > 0
            ]
        elif isinstance(lines, Mapping):
            wanted = [{"item": k, "quantity": v} for k, v in lines.items()]
        else:
            wanted = list(lines)
        result = document_create_and_post(
            actor=actor,
            type=Type.ISSUE,
            lines=wanted,
            idempotency_key=idempotency_key,
            warehouse=warehouse,
            requisition=locked,
            person=locked.requester,
            department=locked.department,
            reason=reason,
        )
    requisition.__dict__["state"] = Requisition.objects.values_list("state", flat=True).get(
        pk=requisition.pk
    )
    return result


@transaction.atomic
def requisition_cancel(*, requisition: Requisition, actor, comment: str = "") -> Requisition:
    """The requester withdraws (submitted, approved or partly issued), or a keeper closes an
    approved or partly issued requisition that will not be (fully) issued."""
    locked = _lock_requisition(requisition)
    is_requester = actor is not None and locked.requester.user_id == actor.pk
    is_keeper = actor is not None and (actor.has_perm(PERM_FULFIL) or _is_admin(actor))
    if not (is_requester or is_keeper):
        raise PermissionDenied(_("Only the requester or a keeper can cancel a requisition."))
    allowed = [ReqState.APPROVED, ReqState.PARTLY_ISSUED]
    if is_requester:
        allowed.append(ReqState.SUBMITTED)
    if locked.state not in allowed:
        _refuse_state(locked, _("cancelled"))
    locked.state = ReqState.CANCELLED
    comment = (comment or "").strip()
    fields = ["state", "updated_at"]
    if comment:
        locked.comment = "\n".join(filter(None, [locked.comment, comment]))
        fields.append("comment")
    locked.save(update_fields=fields)
    _announce(locked)
    return locked
