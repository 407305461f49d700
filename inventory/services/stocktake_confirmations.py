"""Self-confirmation (自助确认) in asset stocktakes: remote staff confirm "I have it".

- ``stocktake_confirmations_request``: a manager asks the holders of the assets not found
  yet (those whose holder has a login) to confirm. Each line is asked once
  (``confirm_requested_at``); each holder gets one message per request listing how many
  assets, through ``notifications`` (event type ``stocktake_confirm``), after commit.
- ``stocktake_self_confirm``: the holder confirms one asset from 我的资产, optionally with a
  photo (checked like asset attachments: real type from the bytes, size limit; stored in the
  private default storage) and a note. The line becomes found with method ``self`` by one
  conditional ``UPDATE … WHERE result='pending'``, so a counter scanning the same asset at
  the same moment wins or loses cleanly; the photo is stored only when the update won.
  Only while the stocktake is counting (read with a shared lock, as scans do, so closing
  waits for a confirmation in flight and refuses later ones).
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assets.selectors import person_for
from assets.services.register import ALLOWED_TYPES, attachment_validate

from ..models_stocktake import Stocktake, StocktakeExpected
from .stocktakes import _status_shared, may_manage

logger = logging.getLogger(__name__)

Kind = Stocktake.Kind
State = Stocktake.Status
Result = StocktakeExpected.Result
EVENT_CONFIRM = "stocktake_confirm"
EVENT_CONFIRM_LABEL = gettext_lazy("Stocktake: please confirm the assets you hold")
MAX_NOTE = 500


def register_notifications() -> None:
    """Declare the event type holders are asked with (called by ``InventoryConfig.ready``)."""
    from notifications import registry
    from notifications.models import Channel

    registry.register_event_type(
        EVENT_CONFIRM,
        EVENT_CONFIRM_LABEL,
        defaults={"*": (Channel.IN_APP, Channel.EMAIL)},
    )


def _require_manage(actor) -> None:
    if actor is None or not may_manage(actor, Kind.ASSET):
        raise PermissionDenied(_("You are not allowed to manage this stocktake."))


def _require_counting(stocktake_id: int) -> None:
    status, kind = _status_shared(stocktake_id) or (None, None)
    if status is None:
        raise Stocktake.DoesNotExist
    if kind != Kind.ASSET:
        raise ValidationError(_("Only asset stocktakes ask holders to confirm."), code="kind")
    if status == State.DRAFT:
        raise ValidationError(_("This stocktake has not started yet."), code="not_started")
    if status != State.COUNTING:
        raise ValidationError(
            _("This stocktake is closed: confirmations are no longer accepted."), code="closed"
        )


def confirmable_lines(*, stocktake: Stocktake) -> QuerySet[StocktakeExpected]:
    """Lines a confirmation may be asked for: not found yet, held by someone with a login."""
    return StocktakeExpected.objects.filter(
        stocktake=stocktake,
        result=Result.PENDING,
        expected_holder__isnull=False,
        expected_holder__user__isnull=False,
    )


@transaction.atomic
def stocktake_confirmations_request(*, stocktake: Stocktake, actor) -> tuple[int, int]:
    """Ask the holders of the assets not found yet to confirm them; returns (lines asked,
    holders notified). Lines asked before are not asked again."""
    _require_manage(actor)
    _require_counting(stocktake.pk)
    now = timezone.now()
    todo = confirmable_lines(stocktake=stocktake).filter(confirm_requested_at__isnull=True)
    by_user = dict(
        todo.order_by()
        .values("expected_holder__user_id")
        .annotate(n=Count("id"))
        .values_list("expected_holder__user_id", "n")
    )
    asked = StocktakeExpected.objects.filter(pk__in=list(todo.values_list("pk", flat=True))).update(
        confirm_requested_at=now
    )
    if by_user:
        stamp = now.strftime("%Y%m%d%H%M%S%f")
        transaction.on_commit(
            lambda: _notify_holders(stocktake_id=stocktake.pk, by_user=by_user, stamp=stamp)
        )
    return asked, len(by_user)


def _notify_holders(*, stocktake_id: int, by_user: dict[int, int], stamp: str) -> None:
    """One message per holder (after commit); never raises into the request."""
    from django.conf import settings

    from notifications.services import notify

    try:
        stocktake = Stocktake.objects.filter(pk=stocktake_id).first()
        if stocktake is None:
            return
        with translation.override(settings.LANGUAGE_CODE):
            for user_id, n in by_user.items():
                body = _(
                    "Please confirm in “My assets” that you still have the %(n)s asset(s) "
                    "listed there, optionally with a photo."
                ) % {"n": n}
                if stocktake.deadline:
                    body += "\n" + _("Deadline: %(date)s.") % {
                        "date": stocktake.deadline.isoformat()
                    }
                notify(
                    event_type=EVENT_CONFIRM,
                    recipients=[user_id],
                    subject=_("Stocktake “%(name)s”: please confirm your assets")
                    % {"name": stocktake.name},
                    body=body,
                    link=reverse("me:assets"),
                    dedup_key=f"inventory.stocktake:{stocktake.pk}:confirm:{stamp}:{user_id}",
                    object_ref=f"inventory.stocktake:{stocktake.pk}",
                )
    except Exception:
        logger.exception("stocktake %s: notifying holders failed", stocktake_id)


def confirmations_pending(*, user) -> QuerySet[StocktakeExpected]:
    """The lines the user (as holder) is asked to confirm, in counting stocktakes."""
    person = person_for(user)
    if person is None:
        return StocktakeExpected.objects.none()
    return (
        StocktakeExpected.objects.filter(
            expected_holder=person,
            result=Result.PENDING,
            confirm_requested_at__isnull=False,
            stocktake__status=State.COUNTING,
        )
        .select_related("asset", "stocktake", "expected_location")
        .order_by("stocktake_id", "tag")
    )


def _photo_name(mime: str) -> str:
    return f"confirm-{uuid.uuid4().hex[:8]}{ALLOWED_TYPES[mime]}"


@transaction.atomic
def stocktake_self_confirm(
    *, line: StocktakeExpected, actor, photo=None, note: str = ""
) -> StocktakeExpected:
    """The holder confirms they have the asset of ``line``. PermissionDenied for anyone but
    the line's expected holder; ValidationError when it was not asked, is already counted,
    the stocktake is not counting, or the photo or note are not acceptable."""
    person = person_for(actor)
    if person is None or line.expected_holder_id != person.pk:
        raise PermissionDenied(_("Only the holder of the asset can confirm it."))
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError(
            {"note": [_("The note is too long (at most %(n)s characters).") % {"n": MAX_NOTE}]}
        )
    mime = None
    if photo:
        try:
            mime = attachment_validate(photo)
        except ValidationError as exc:
            raise ValidationError({"photo": exc.messages}) from None
        if not mime.startswith("image/"):
            raise ValidationError({"photo": [_("Upload a photo (JPEG, PNG, WebP or GIF).")]})
    _require_counting(line.stocktake_id)
    if line.confirm_requested_at is None:
        raise ValidationError(_("No confirmation was asked for this asset."), code="not_asked")
    now = timezone.now()
    updated = StocktakeExpected.objects.filter(pk=line.pk, result=Result.PENDING).update(
        result=Result.FOUND,
        method=StocktakeExpected.Method.SELF,
        observed_holder=person,
        found_at=now,
        found_by=actor,
        confirmed_at=now,
        confirm_note=note,
    )
    if not updated:
        raise ValidationError(
            _("%(tag)s has already been counted: no confirmation needed.") % {"tag": line.tag},
            code="already_found",
        )
    locked = StocktakeExpected.objects.select_for_update().get(pk=line.pk)
    if photo:
        data = photo.read()
        locked.confirm_photo.save(_photo_name(mime), ContentFile(data), save=False)
        locked.save(update_fields=["confirm_photo"])
        logger.info(
            "stocktake line %s: confirmation photo %s (sha256 %s)",
            locked.pk,
            locked.confirm_photo.name,
            hashlib.sha256(data).hexdigest(),
        )
    return locked
