"""Wiring of requisitions (领用申请) into notifications (connected by ``InventoryConfig.ready``).

notifications imports nothing from inventory; this module registers the event types of
requisitions and a receiver of ``inventory.signals.requisition_changed`` (sent after commit,
with ids) that calls ``notifications.services.notify``:

- submitted → the head of the requester's department (the nearest one up the tree);
- approved → the requester, and the keepers who can issue it (those whose warehouses hold an
  item still to issue; every keeper when none does);
- rejected → the requester, with the head's comment;
- partly / fully issued → the requester, once per issue document (what it issued, where).

Each announcement has a deduplication key naming the event, so a signal delivered twice
announces once. The receiver never raises into the service that sent the signal.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assets.selectors_workflow import department_head_user
from notifications import registry
from notifications.models import Channel
from notifications.services import notify

from . import signals
from .models import Document, DocumentType, Requisition, Stock, Warehouse, format_quantity

IN_APP, EMAIL = Channel.IN_APP, Channel.EMAIL
EVERYONE = "*"

REQUISITION_WAITING = "requisition_waiting"
REQUISITION_DECIDED = "requisition_decided"
REQUISITION_TO_ISSUE = "requisition_to_issue"
REQUISITION_ISSUED = "requisition_issued"

EVENT_TYPES = [
    (REQUISITION_WAITING, gettext_lazy("Requisition waiting for my approval"), (IN_APP, EMAIL)),
    (REQUISITION_DECIDED, gettext_lazy("My requisition approved or rejected"), (IN_APP, EMAIL)),
    (REQUISITION_TO_ISSUE, gettext_lazy("Approved requisition to issue (keepers)"), (IN_APP,)),
    (REQUISITION_ISSUED, gettext_lazy("Items of my requisition issued"), (IN_APP, EMAIL)),
]

State = Requisition.State
logger = logging.getLogger(__name__)


def register() -> None:
    for key, label, channels in EVENT_TYPES:
        registry.register_event_type(key, label, defaults={EVERYONE: channels})


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


def _lines_text(lines) -> str:
    return "\n".join(
        f"{line.item} × {format_quantity(line.quantity)} {line.item.unit}" for line in lines
    )


def keeper_user_ids(requisition: Requisition) -> list[int]:
    """Active keepers of the active warehouses that hold an item still to issue (all keepers
    of active warehouses when none holds any)."""
    items = [line.item_id for line in requisition.lines.all() if line.remaining > 0]
    keepers = Warehouse.keepers.through.objects.filter(
        warehouse__is_active=True, user__is_active=True
    )
    stocked = keepers.filter(
        warehouse_id__in=Stock.objects.filter(item_id__in=items, quantity__gt=0).values(
            "warehouse_id"
        )
    )
    ids = list(stocked.values_list("user_id", flat=True).distinct())
    return ids or list(keepers.values_list("user_id", flat=True).distinct())


@_robust
def on_requisition_changed(sender, *, requisition_id: int, state: str, **kwargs) -> None:
    requisition = (
        Requisition.objects.select_related("requester", "department")
        .prefetch_related("lines__item")
        .filter(pk=requisition_id)
        .first()
    )
    if requisition is None:
        return
    values = {"id": requisition.pk, "person": requisition.requester.name}
    requester = requisition.requester.user_id
    link = requisition.get_absolute_url()
    ref = f"inventory.requisition:{requisition.pk}"
    common = {"dedup_key": f"{ref}:{state}", "object_ref": ref}
    if state == State.SUBMITTED:
        head = department_head_user(requisition.department)
        if head is None or head.pk == requester:
            return
        notify(
            event_type=REQUISITION_WAITING,
            recipients=[head],
            subject=_("Requisition #%(id)s of %(person)s waiting for your approval") % values,
            body="\n".join([_lines_text(requisition.lines.all()), requisition.reason]),
            link=reverse("inventory:requisition_approvals"),
            **common,
        )
    elif state == State.APPROVED:
        notify(
            event_type=REQUISITION_DECIDED,
            recipients=[requester],
            subject=_("Your requisition #%(id)s was approved") % values,
            body=requisition.comment,
            link=link,
            **common,
        )
        notify(
            event_type=REQUISITION_TO_ISSUE,
            recipients=[u for u in keeper_user_ids(requisition) if u != requester],
            subject=_("Approved requisition #%(id)s of %(person)s to issue") % values,
            body=_lines_text(requisition.lines.all()),
            link=reverse("inventory:requisition_fulfil", args=[requisition.pk]),
            dedup_key=f"{ref}:to-issue",
            object_ref=ref,
        )
    elif state == State.REJECTED:
        notify(
            event_type=REQUISITION_DECIDED,
            recipients=[requester],
            subject=_("Your requisition #%(id)s was rejected") % values,
            body=requisition.comment,
            link=link,
            **common,
        )
    elif state in (State.PARTLY_ISSUED, State.FULLY_ISSUED):
        document = (
            Document.objects.filter(
                requisition=requisition,
                type=DocumentType.ISSUE,
                status=Document.Status.POSTED,
                reverses__isnull=True,
            )
            .select_related("warehouse__location")
            .order_by("-id")
            .first()
        )
        if document is None:
            return
        lines = document.lines.select_related("item").order_by("id")
        if state == State.FULLY_ISSUED:
            subject = _("Your requisition #%(id)s has been issued in full") % values
        else:
            subject = _("Part of your requisition #%(id)s has been issued") % values
        body = [
            _("%(number)s from %(warehouse)s:")
            % {"number": document.number, "warehouse": document.warehouse},
            _lines_text(lines),
        ]
        notify(
            event_type=REQUISITION_ISSUED,
            recipients=[requester],
            subject=subject,
            body="\n".join(body),
            link=link,
            dedup_key=f"{ref}:issued:{document.pk}",
            object_ref=ref,
        )


def connect() -> None:
    register()
    signals.requisition_changed.connect(
        on_requisition_changed, dispatch_uid="inventory.notify.requisition_changed"
    )
