"""Wiring of the assets app into notifications (imported by ``AssetsConfig.ready``).

notifications imports nothing from assets; this module registers with it:

- the event types assets announces, with their default channels per role;
- the reminder evaluators of ``assets/reminders.py``;
- the directory: a user's contact details (from their person record) and departments;
- receivers of ``assets.signals`` (sent after commit, with ids) that call
  ``notifications.services.notify``. Each announcement has a deduplication key naming the
  event, so a signal delivered twice announces once. A receiver never raises into the
  service that sent the signal: errors are logged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from itassets.roles import CLERK
from notifications import registry
from notifications.models import Channel
from notifications.services import notify

from . import reminders, signals
from .lifecycle import TRANSITIONS
from .models import (
    ApprovalRequest,
    ApprovalStep,
    AssetEvent,
    AssetRequest,
    Department,
    Person,
    RepairOrder,
)
from .selectors_workflow import department_head_user

logger = logging.getLogger(__name__)

IN_APP, EMAIL = Channel.IN_APP, Channel.EMAIL
IM = (Channel.DINGTALK, Channel.WECOM, Channel.FEISHU)  # only where a robot posts for the user
EVERYONE = "*"

# --- Event types ----------------------------------------------------------------------------

ASSET_ASSIGNED = "asset_assigned"
APPROVAL_WAITING = "approval_waiting"
APPROVAL_DECIDED = "approval_decided"
REQUEST_WAITING = "request_waiting"
REQUEST_DECIDED = "request_decided"
REQUEST_FULFILLED = "request_fulfilled"
REPAIR_REPORTED = "repair_reported"
REPAIR_FINISHED = "repair_finished"
RETURN_REQUESTED = "return_requested"

EVENT_TYPES = [
    (ASSET_ASSIGNED, gettext_lazy("Asset assigned or loaned to me"), (IN_APP, EMAIL, *IM)),
    (APPROVAL_WAITING, gettext_lazy("Approval waiting for me"), (IN_APP, EMAIL)),
    (APPROVAL_DECIDED, gettext_lazy("My approval request decided"), (IN_APP, EMAIL)),
    (REQUEST_WAITING, gettext_lazy("Asset request waiting for me"), (IN_APP, EMAIL)),
    (REQUEST_DECIDED, gettext_lazy("My asset request approved or rejected"), (IN_APP, EMAIL)),
    (REQUEST_FULFILLED, gettext_lazy("My asset request fulfilled"), (IN_APP, EMAIL)),
    (REPAIR_REPORTED, gettext_lazy("Fault reported by an employee"), (IN_APP,)),
    (REPAIR_FINISHED, gettext_lazy("Repair finished"), (IN_APP, EMAIL)),
    (RETURN_REQUESTED, gettext_lazy("Return requested by an employee"), (IN_APP,)),
]

# kind, evaluate, complete (fills in recipients and texts of new occurrences), label, defaults
REMINDERS = [
    (
        "warranty_ending",
        reminders.warranty_ending,
        reminders.warranty_complete,
        gettext_lazy("Reminder: warranty ending"),
        {EVERYONE: (IN_APP, EMAIL)},
    ),
    (
        "loan_due",
        reminders.loan_due,
        reminders.loan_complete,
        gettext_lazy("Reminder: loan due or overdue"),
        {EVERYONE: (IN_APP, EMAIL, *IM)},
    ),
    (
        "assignment_unconfirmed",
        reminders.assignment_unconfirmed,
        reminders.assignment_complete,
        gettext_lazy("Reminder: handover not confirmed"),
        {EVERYONE: (IN_APP, EMAIL, *IM)},
    ),
    (
        "approval_pending",
        reminders.approval_pending,
        None,
        gettext_lazy("Reminder: approval pending"),
        {EVERYONE: (IN_APP, EMAIL)},
    ),
    (
        "weekly_digest",
        reminders.weekly_digest,
        None,
        gettext_lazy("Weekly digest (asset clerks)"),
        {CLERK: (EMAIL,)},
    ),
]


# --- Directory ------------------------------------------------------------------------------


class AssetsDirectory:
    """Users' contact details and departments from their person records (人员)."""

    def contacts(self, user_ids: Sequence[int]) -> dict[int, registry.Contact]:
        users = {
            u.pk: u
            for u in get_user_model()
            .objects.filter(pk__in=list(user_ids))
            .only("pk", "username", "first_name", "last_name", "email")
        }
        people = {
            p.user_id: p
            for p in Person.objects.filter(user_id__in=list(users)).only(
                "user_id", "name", "email", "phone", "dingtalk_id", "wecom_id"
            )
        }
        contacts = {}
        for pk, user in users.items():
            person = people.get(pk)
            contacts[pk] = registry.Contact(
                name=(person.name if person else "") or user.get_full_name() or user.username,
                email=user.email or (person.email if person else ""),
                mobile=person.phone if person else "",
                dingtalk_id=person.dingtalk_id if person else "",
                wecom_id=person.wecom_id if person else "",
            )
        return contacts

    def departments_of(self, user_ids: Sequence[int]) -> dict[int, list[int]]:
        rows = list(
            Person.objects.filter(user_id__in=list(user_ids), department__isnull=False).values_list(
                "user_id", "department__path"
            )
        )
        if not rows:
            return {}
        id_by_path = dict(Department.objects.values_list("path", "id"))
        steplen = Department.steplen
        result = {}
        for user_id, path in rows:
            result[user_id] = [
                id_by_path[path[:end]]
                for end in range(len(path), 0, -steplen)
                if path[:end] in id_by_path
            ]
        return result

    def department_choices(self) -> list[tuple[int, str]]:
        return list(
            Department.objects.filter(is_active=True)
            .order_by("path")
            .values_list("id", "full_name")
        )


def register() -> None:
    for key, label, channels in EVENT_TYPES:
        registry.register_event_type(key, label, defaults={EVERYONE: channels})
    for kind, evaluate, complete, label, defaults in REMINDERS:
        registry.register_reminder(
            kind, evaluate, label=label, defaults=defaults, complete=complete
        )
    registry.register_directory(AssetsDirectory())


# --- Receivers ------------------------------------------------------------------------------


def _robust(receiver):
    """Announce in the site language; log instead of raising into the sender."""

    @functools.wraps(receiver)
    def wrapper(sender, **kwargs):
        try:
            with translation.override(settings.LANGUAGE_CODE):
                receiver(sender, **kwargs)
        except Exception:
            logger.exception("notification receiver %s failed for %r", receiver.__name__, kwargs)

    return wrapper


def _user_of(person: Person | None) -> int | None:
    return person.user_id if person is not None else None


@_robust
def on_asset_transitioned(sender, *, event_id: int, **kwargs) -> None:
    event = (
        AssetEvent.objects.select_related("asset__holder", "handover__to_person")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return
    asset = event.asset
    if event.transition in ("assign", "loan", "transfer"):
        _announce_handover(event)
    elif event.transition in ("repair_done", "repair_failed"):
        order = (
            RepairOrder.objects.filter(asset=asset, state__in=("done", "failed"))
            .order_by("-id")
            .first()
        )
        recipients = {_user_of(asset.holder), order.reported_by_id if order else None}
        if event.transition == "repair_done":
            subject = _("Repair finished: %(tag)s %(name)s")
        else:
            subject = _("Repair failed: %(tag)s %(name)s")
        notify(
            event_type=REPAIR_FINISHED,
            recipients=[r for r in recipients if r],
            subject=subject % {"tag": asset.tag, "name": asset.name},
            body=(order.result if order else "") or event.note,
            link=reverse("assets:detail", args=[asset.tag]),
            dedup_key=f"assets.event:{event.pk}",
            object_ref=f"assets.asset:{asset.pk}",
        )


def _announce_handover(event: AssetEvent) -> None:
    """One message per handover receipt (a bulk assignment of 20 assets is one message)."""
    asset = event.asset
    holder_user = _user_of(asset.holder)
    if holder_user is None:
        return
    handover = event.handover
    if handover is not None:
        assets = [
            f"{e.asset.tag} {e.asset.name}"
            for e in handover.events.select_related("asset").order_by("id")[:20]
        ]
        key = f"assets.handover:{handover.pk}:{event.transition}"
        confirm = handover.needs_acceptance and handover.accepted_at is None
    else:
        assets = [f"{asset.tag} {asset.name}"]
        key = f"assets.event:{event.pk}"
        confirm = False
    verb = {
        "assign": _("assigned to you"),
        "loan": _("loaned to you"),
        "transfer": _("transferred to you"),
    }[event.transition]
    subject = _("%(what)s %(verb)s") % {
        "what": assets[0] if len(assets) == 1 else _("%(n)d assets") % {"n": len(assets)},
        "verb": verb,
    }
    lines = list(assets)
    if asset.due_date:
        lines.append(_("Due back on %(date)s.") % {"date": asset.due_date.isoformat()})
    if confirm:
        lines.append(
            _("Please confirm receipt (handover %(number)s).") % {"number": handover.number}
        )
    notify(
        event_type=ASSET_ASSIGNED,
        recipients=[holder_user],
        subject=subject,
        body="\n".join(lines),
        link=reverse("me:assets"),
        dedup_key=key,
        object_ref=f"assets.asset:{asset.pk}",
        context={"confirm": confirm},
    )


def _open_step_approvers(approval: ApprovalRequest) -> list[int]:
    step = (
        ApprovalStep.objects.select_related("request__asset")
        .filter(request=approval, number=approval.current_step)
        .first()
    )
    if step is None or step.decision != ApprovalStep.Decision.PENDING:
        return []
    if step.approver_id:
        return [step.approver_id]
    if step.role == CLERK:
        return reminders.clerk_user_ids()
    head = department_head_user(approval.asset.department)
    return [head.pk] if head else []


def _approval_subject(approval: ApprovalRequest) -> dict:
    t = TRANSITIONS.get(approval.transition)
    return {
        "action": t.label if t else approval.transition,
        "tag": approval.asset.tag,
        "name": approval.asset.name,
    }


@_robust
def on_approval_requested(sender, *, approval_id: int, **kwargs) -> None:
    approval = ApprovalRequest.objects.select_related("asset").filter(pk=approval_id).first()
    if approval is None or approval.state != ApprovalRequest.State.PENDING:
        return
    _announce_waiting(approval)


def _announce_waiting(approval: ApprovalRequest) -> None:
    notify(
        event_type=APPROVAL_WAITING,
        recipients=[u for u in _open_step_approvers(approval) if u != approval.requested_by_id],
        subject=_("Waiting for your approval: %(action)s %(tag)s %(name)s")
        % _approval_subject(approval),
        body=approval.reason,
        link=reverse("approvals:detail", args=[approval.pk]),
        dedup_key=f"assets.approval:{approval.pk}:step-{approval.current_step}",
        object_ref=f"assets.approvalrequest:{approval.pk}",
    )


@_robust
def on_approval_decided(sender, *, approval_id: int, final: bool, **kwargs) -> None:
    approval = ApprovalRequest.objects.select_related("asset").filter(pk=approval_id).first()
    if approval is None:
        return
    if not final:
        _announce_waiting(approval)
        return
    if approval.state == ApprovalRequest.State.CANCELLED:
        return  # the requester withdrew it themselves
    if approval.state == ApprovalRequest.State.APPROVED:
        subject = _("Approved: %(action)s %(tag)s %(name)s")
    else:
        subject = _("Rejected: %(action)s %(tag)s %(name)s")
    last = approval.steps.exclude(decided_at=None).order_by("-number").first()
    notify(
        event_type=APPROVAL_DECIDED,
        recipients=[approval.requested_by_id],
        subject=subject % _approval_subject(approval),
        body=last.comment if last else "",
        link=reverse("approvals:detail", args=[approval.pk]),
        dedup_key=f"assets.approval:{approval.pk}:decided",
        object_ref=f"assets.approvalrequest:{approval.pk}",
    )


@_robust
def on_asset_request_changed(sender, *, request_id: int, state: str, **kwargs) -> None:
    request = (
        AssetRequest.objects.select_related(
            "requester", "category", "department", "fulfilled_asset"
        )
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        return
    values = {"person": request.requester.name, "category": request.category.name}
    common = {
        "dedup_key": f"assets.request:{request.pk}:{state}",
        "object_ref": f"assets.assetrequest:{request.pk}",
    }
    requester = request.requester.user_id
    if state == AssetRequest.State.SUBMITTED:
        head = department_head_user(request.department)
        if head is None or head.pk == requester:
            return
        notify(
            event_type=REQUEST_WAITING,
            recipients=[head],
            subject=_("Asset request of %(person)s waiting for your approval (%(category)s)")
            % values,
            body=request.reason,
            link=reverse("requests:list"),
            **common,
        )
    elif state == AssetRequest.State.APPROVED:
        notify(
            event_type=REQUEST_DECIDED,
            recipients=[requester],
            subject=_("Your asset request was approved (%(category)s)") % values,
            body=request.decision_comment,
            link=reverse("me:requests"),
            **common,
        )
        notify(
            event_type=REQUEST_WAITING,
            recipients=reminders.clerk_user_ids(),
            subject=_("Approved asset request of %(person)s to fulfil (%(category)s)") % values,
            body=request.reason,
            link=reverse("requests:list"),
            dedup_key=f"assets.request:{request.pk}:to-fulfil",
            object_ref=common["object_ref"],
        )
    elif state == AssetRequest.State.REJECTED:
        notify(
            event_type=REQUEST_DECIDED,
            recipients=[requester],
            subject=_("Your asset request was rejected (%(category)s)") % values,
            body=request.decision_comment,
            link=reverse("me:requests"),
            **common,
        )
    elif state == AssetRequest.State.FULFILLED:
        asset = request.fulfilled_asset
        notify(
            event_type=REQUEST_FULFILLED,
            recipients=[requester],
            subject=_("Your asset request was fulfilled: %(asset)s")
            % {"asset": f"{asset.tag} {asset.name}" if asset else values["category"]},
            link=reverse("me:assets"),
            **common,
        )


@_robust
def on_repair_reported(sender, *, repair_id: int, **kwargs) -> None:
    order = RepairOrder.objects.select_related("asset").filter(pk=repair_id).first()
    if order is None:
        return
    notify(
        event_type=REPAIR_REPORTED,
        recipients=reminders.clerk_user_ids(),
        subject=_("Fault reported: %(tag)s %(name)s")
        % {"tag": order.asset.tag, "name": order.asset.name},
        body=order.fault,
        link=reverse("assets:repair_detail", args=[order.pk]),
        dedup_key=f"assets.repair:{order.pk}:reported",
        object_ref=f"assets.repairorder:{order.pk}",
    )


@_robust
def on_return_requested(sender, *, event_id: int, **kwargs) -> None:
    event = AssetEvent.objects.select_related("asset", "actor").filter(pk=event_id).first()
    if event is None:
        return
    who = event.actor.get_full_name() or event.actor.get_username() if event.actor else ""
    notify(
        event_type=RETURN_REQUESTED,
        recipients=reminders.clerk_user_ids(),
        subject=_("Return requested: %(tag)s %(name)s (%(person)s)")
        % {"tag": event.asset.tag, "name": event.asset.name, "person": who},
        body=event.note,
        link=reverse("assets:unconfirmed"),
        dedup_key=f"assets.event:{event.pk}",
        object_ref=f"assets.asset:{event.asset_id}",
    )


def connect() -> None:
    register()
    signals.asset_transitioned.connect(
        on_asset_transitioned, dispatch_uid="assets.notify.transitioned"
    )
    signals.approval_requested.connect(
        on_approval_requested, dispatch_uid="assets.notify.approval_requested"
    )
    signals.approval_decided.connect(
        on_approval_decided, dispatch_uid="assets.notify.approval_decided"
    )
    signals.asset_request_changed.connect(
        on_asset_request_changed, dispatch_uid="assets.notify.request_changed"
    )
    signals.repair_reported.connect(on_repair_reported, dispatch_uid="assets.notify.repair")
    signals.asset_return_requested.connect(
        on_return_requested, dispatch_uid="assets.notify.return_requested"
    )
