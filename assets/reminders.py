"""Reminder rules over asset data, registered with ``notifications.registry`` (see
``assets/notify.py``). Each evaluator is ``fn(rule, now)`` and yields what is due now as
``Occurrence`` objects; the notifications scan makes each (rule, object, occurrence) a delivery
once, so an evaluator only says what is due, never what was already sent.

Finding what is due reads indexes only (``(warranty_end, id)``, ``(status, id)``,
``(status, due_date)``, ``(needs_acceptance, accepted_at, created_at)``); the ``*_complete``
functions read the rows (tag, name, holder, department) of the occurrences not announced yet,
in batches, and write the texts. At 1,000,000 assets that is the difference between reading
tens of thousands of table rows every 15 minutes and reading the index.

- ``warranty_ending``: assets (not disposed or lost) whose warranty ends within the largest lead
  time; the occurrence is the end date and the most urgent lead time reached (30, then 7 days)
  → asset clerks. An extended warranty (a new end date) is reminded again.
- ``loan_due``: loans due within the lead time (``<due>:due-3``) and overdue loans, one round
  every ``overdue_every_days`` (``<due>:overdue-1``, ``-2``, …) → the holder; from the round
  after ``cc_head_after_round`` (2) on, a copy to the head of the asset's department
  (``<due>:overdue-3:cc``). A new due date starts over.
- ``assignment_unconfirmed``: handover receipts waiting for the recipient's confirmation for
  more than ``after_days`` (3) → the recipient.
- ``approval_pending``: approval steps and asset requests (申领) undecided for more than
  ``after_hours`` (24) → whoever may decide.
- ``weekly_digest``: counts and links for asset clerks, once per ISO week from ``weekday``
  (1 = Monday) ``hour`` (8) on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from itassets.roles import CLERK, ROLES
from notifications.registry import Occurrence

from .lifecycle import TRANSITIONS, Status
from .models import ApprovalRequest, ApprovalStep, Asset, AssetRequest, Department, Handover
from .selectors_workflow import HELD_STATUSES

ENDED_STATUSES = (Status.DISPOSED, Status.LOST)
CHUNK = 2000


def _language():
    from django.conf import settings

    return translation.override(settings.LANGUAGE_CODE)


def clerk_user_ids() -> list[int]:
    """Active users with the asset clerk role."""
    return list(
        get_user_model()
        .objects.filter(groups__name=ROLES[CLERK].group, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )


def department_head_users() -> dict[int, int]:
    """Department id → user id of the nearest active head up the tree (itself first).

    One query over the departments (hundreds of rows), instead of one per asset."""
    rows = list(
        Department.objects.values_list("id", "path", "head__user_id", "head__is_active").order_by(
            "path"
        )
    )
    by_path = {path: (uid if active else None) for _id, path, uid, active in rows}
    steplen = Department.steplen
    heads = {}
    for dept_id, path, _uid, _active in rows:
        for end in range(len(path), 0, -steplen):
            uid = by_path.get(path[:end])
            if uid:
                heads[dept_id] = uid
                break
    return heads


def _leads(rule) -> list[int]:
    return sorted({int(d) for d in rule.lead_days or [] if int(d) >= 0})


# --- Warranty -----------------------------------------------------------------------------------


def _ended_ids() -> set[int]:
    """Ids of disposed and lost assets, from the (status, id) index alone."""
    return set(
        Asset.objects.filter(status__in=ENDED_STATUSES).order_by().values_list("id", flat=True)
    )


def warranty_ending(rule, now: datetime) -> Iterator[Occurrence]:
    """What is due, from the (warranty_end, id) and (status, id) indexes alone."""
    leads = _leads(rule)
    if not leads:
        return
    clerks = clerk_user_ids()
    if not clerks:
        return
    today = timezone.localdate(now)
    rows = (
        Asset.objects.filter(
            warranty_end__gte=today, warranty_end__lte=today + timedelta(leads[-1])
        )
        .order_by("warranty_end", "id")
        .values_list("id", "warranty_end")
    )
    rows = list(rows)
    ended = _ended_ids() if rows else set()
    for pk, end in rows:
        if pk in ended:
            continue
        days = (end - today).days
        lead = next(d for d in leads if days <= d)
        yield Occurrence(
            object_ref=f"assets.asset:{pk}",
            occurrence=f"{end.isoformat()}:lead-{lead}",
            data=(pk, end, days, clerks),
        )


def warranty_complete(rule, now: datetime, occurrences: list[Occurrence]) -> None:
    names = _asset_names([o.data[0] for o in occurrences])
    detail = _url_pattern("assets:detail")
    with _language():
        plural = _plural(
            "Warranty of %(tag)s %(name)s ends in %(days)d day",
            "Warranty of %(tag)s %(name)s ends in %(days)d days",
        )
        body = _("The warranty ends on %(date)s.")
        for occ in occurrences:
            pk, end, days, clerks = occ.data
            tag, name = names.get(pk, ("", ""))
            occ.recipients = clerks
            occ.subject = plural(days) % {"tag": tag, "name": name, "days": days}
            occ.body = body % {"date": end.isoformat()}
            occ.link = detail(tag)
            occ.context = {"tag": tag, "days_left": days, "date": end.isoformat()}


def _asset_names(ids: list[int]) -> dict[int, tuple[str, str]]:
    return {
        pk: (tag, name)
        for pk, tag, name in Asset.objects.filter(pk__in=ids).values_list("id", "tag", "name")
    }


def _url_pattern(name: str):
    """A fast ``reverse(name, args=[tag])`` (one reverse, then string formatting)."""
    marker = "__TAG__"
    pattern = reverse(name, args=[marker])
    return lambda tag: pattern.replace(marker, tag)


def _plural(singular: str, plural: str):
    """``ngettext`` remembered per number (the scan formats thousands of messages)."""
    cache = {}

    def form(n: int) -> str:
        if n not in cache:
            cache[n] = ngettext(singular, plural, n)
        return cache[n]

    return form


# --- Loans --------------------------------------------------------------------------------------


def loan_due(rule, now: datetime) -> Iterator[Occurrence]:
    """Loans due within the lead time or overdue, from the (status, due_date) index alone.

    The occurrence names the due date, the holder and the reminder (``due-3``, ``overdue-2``,
    and ``overdue-3:cc`` for the department head's copy), so a new due date or a loan to
    someone else starts over."""
    leads = _leads(rule) or [0]
    every = max(1, rule.param("overdue_every_days", 3))
    cc_after = max(0, rule.param("cc_head_after_round", 2))
    today = timezone.localdate(now)
    rows = (
        Asset.objects.filter(status=Status.ON_LOAN, due_date__lte=today + timedelta(leads[-1]))
        .order_by("due_date", "id")
        .values_list("id", "due_date", "holder_id")
    )
    for pk, due, holder in rows:
        ref = f"assets.asset:{pk}"
        loan = f"{due.isoformat()}:p{holder or 0}"
        if due >= today:
            days = (due - today).days
            lead = next(d for d in leads if days <= d)
            yield Occurrence(ref, f"{loan}:due-{lead}", data=(pk, due, days, 0, False))
            continue
        overdue = (today - due).days
        round_ = (overdue - 1) // every + 1
        occurrence = f"{loan}:overdue-{round_}"
        yield Occurrence(ref, occurrence, data=(pk, due, overdue, round_, False))
        if round_ > cc_after:
            yield Occurrence(ref, f"{occurrence}:cc", data=(pk, due, overdue, round_, True))


def loan_complete(rule, now: datetime, occurrences: list[Occurrence]) -> None:
    heads = department_head_users()
    rows = {
        row[0]: row[1:]
        for row in Asset.objects.filter(pk__in=[o.data[0] for o in occurrences]).values_list(
            "id",
            "tag",
            "name",
            "holder__user_id",
            "holder__name",
            "department_id",
            "holder__department_id",
        )
    }
    link = reverse("me:assets")
    detail = _url_pattern("assets:detail")
    with _language():
        overdue_plural = _plural(
            "%(tag)s %(name)s is %(days)d day overdue", "%(tag)s %(name)s is %(days)d days overdue"
        )
        due_subject = _("%(tag)s %(name)s is due back on %(date)s")
        due_body = _("Please return the asset by its due date or ask for an extension.")
        overdue_body = _("The asset was due back on %(date)s. Please return it.")
        cc_subject = _("Copy: %(subject)s (%(holder)s)")
        cc_body = _(
            "%(holder)s has not returned the asset due on %(date)s after %(rounds)d reminders."
        )
        for occ in occurrences:
            pk, due, days, round_, copy = occ.data
            if pk not in rows:
                continue
            tag, name, user_id, holder, dept, holder_dept = rows[pk]
            holder = holder or ""
            values = {"tag": tag, "name": name, "date": due.isoformat(), "days": days}
            occ.context = {"tag": tag, "due_date": due.isoformat(), "holder": holder}
            if not round_:
                occ.recipients = [user_id] if user_id else []
                occ.subject = due_subject % values
                occ.body = due_body
                occ.link = link
                continue
            occ.context |= {"days_overdue": days, "round": round_}
            subject = overdue_plural(days) % values
            if not copy:
                occ.recipients = [user_id] if user_id else []
                occ.subject = subject
                occ.body = overdue_body % values
                occ.link = link
                continue
            head = heads.get(dept or holder_dept)
            occ.recipients = [head] if head and head != user_id else []
            occ.subject = cc_subject % {"subject": subject, "holder": holder}
            occ.body = cc_body % {"holder": holder, "date": due.isoformat(), "rounds": round_ - 1}
            occ.link = detail(tag)


# --- Unconfirmed assignments --------------------------------------------------------------------


def assignment_unconfirmed(rule, now: datetime) -> Iterator[Occurrence]:
    """From the (needs_acceptance, accepted_at, created_at) index alone."""
    days = max(0, rule.param("after_days", 3))
    rows = (
        Handover.objects.filter(
            needs_acceptance=True,
            accepted_at__isnull=True,
            created_at__lte=now - timedelta(days=days),
        )
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    for pk in rows:
        yield Occurrence(f"assets.handover:{pk}", f"after-{days}d", data=pk)


def assignment_complete(rule, now: datetime, occurrences: list[Occurrence]) -> None:
    rows = {
        pk: rest
        for pk, *rest in Handover.objects.filter(
            pk__in=[o.data for o in occurrences],
            to_person__user__isnull=False,
            to_person__user__is_active=True,
        ).values_list("id", "number", "created_at", "to_person__user_id")
    }
    link = reverse("me:assets")
    tz = timezone.get_current_timezone()
    with _language():
        subject = _("Please confirm receipt: handover %(number)s")
        body = _(
            "Assets were handed over to you on %(date)s and are waiting for your confirmation."
        )
        for occ in occurrences:
            if occ.data not in rows:
                continue
            number, created, user_id = rows[occ.data]
            date = created.astimezone(tz).date().isoformat()
            occ.recipients = [user_id]
            occ.subject = subject % {"number": number}
            occ.body = body % {"date": date}
            occ.link = link
            occ.context = {"number": number, "date": date}


# --- Pending approvals --------------------------------------------------------------------------


def step_approver_ids(step: ApprovalStep, *, clerks: list[int], heads: dict[int, int]) -> list:
    """Who may decide ``step``: its named approver, else the role's users."""
    if step.approver_id:
        return [step.approver_id]
    if step.role == CLERK:
        return clerks
    head = heads.get(step.request.asset.department_id)
    return [head] if head else []


def approval_pending(rule, now: datetime) -> Iterator[Occurrence]:
    hours = max(0, rule.param("after_hours", 24))
    cutoff = now - timedelta(hours=hours)
    clerks = clerk_user_ids()
    heads = department_head_users()
    previous_decided = ApprovalStep.objects.filter(
        request_id=OuterRef("request_id"), number__lt=OuterRef("number")
    ).order_by("-number")
    steps = (
        ApprovalStep.objects.filter(
            decision=ApprovalStep.Decision.PENDING,
            request__state=ApprovalRequest.State.PENDING,
            number=F("request__current_step"),
        )
        .annotate(previous_decided_at=Subquery(previous_decided.values("decided_at")[:1]))
        .select_related("request__asset")
        .order_by("request_id")
    )
    with _language():
        for step in steps.iterator(chunk_size=CHUNK):
            started = step.previous_decided_at or step.request.requested_at
            if started > cutoff:
                continue
            approval = step.request
            t = TRANSITIONS.get(approval.transition)
            yield Occurrence(
                object_ref=f"assets.approvalrequest:{approval.pk}",
                occurrence=f"step-{step.number}:after-{hours}h",
                recipients=step_approver_ids(step, clerks=clerks, heads=heads),
                subject=_("Waiting for your approval: %(action)s %(tag)s %(name)s")
                % {
                    "action": t.label if t else approval.transition,
                    "tag": approval.asset.tag,
                    "name": approval.asset.name,
                },
                body=_("Requested on %(date)s.")
                % {"date": timezone.localtime(approval.requested_at).strftime("%Y-%m-%d %H:%M")},
                link=reverse("approvals:detail", args=[approval.pk]),
                context={"tag": approval.asset.tag},
            )
        requests = (
            AssetRequest.objects.filter(state=AssetRequest.State.SUBMITTED, created_at__lte=cutoff)
            .select_related("requester", "category")
            .order_by("id")
        )
        for request in requests.iterator(chunk_size=CHUNK):
            head = heads.get(request.department_id)
            if not head or head == request.requester.user_id:
                continue
            yield Occurrence(
                object_ref=f"assets.assetrequest:{request.pk}",
                occurrence=f"submitted:after-{hours}h",
                recipients=[head],
                subject=_("Waiting for your approval: asset request of %(person)s (%(category)s)")
                % {"person": request.requester.name, "category": request.category.name},
                body=request.reason,
                link=reverse("requests:list"),
            )


# --- Weekly digest ------------------------------------------------------------------------------


def weekly_digest(rule, now: datetime) -> Iterator[Occurrence]:
    weekday = min(7, max(1, rule.param("weekday", 1)))
    hour = min(23, max(0, rule.param("hour", 8)))
    local = timezone.localtime(now)
    if (local.isoweekday(), local.hour) < (weekday, hour):
        return
    year, week, _day = local.isocalendar()
    occurrence = f"{year}-W{week:02d}"
    if rule.occurrence_sent("assets.digest", occurrence):
        return  # counting a large register again every 15 minutes is waste
    clerks = clerk_user_ids()
    if not clerks:
        return
    today = local.date()
    by_status = _status_counts()
    overdue = Asset.objects.filter(status__in=HELD_STATUSES, due_date__lt=today).count()
    warranty = (
        Asset.objects.filter(warranty_end__gte=today, warranty_end__lte=today + timedelta(30))
        .exclude(status__in=ENDED_STATUSES)
        .count()
    )
    unconfirmed = Handover.objects.filter(needs_acceptance=True, accepted_at__isnull=True).count()
    approvals = ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING).count()
    requests = AssetRequest.objects.filter(
        state__in=(AssetRequest.State.SUBMITTED, AssetRequest.State.APPROVED)
    ).count()
    with _language():
        lines = [
            (_("In stock"), by_status.get(Status.IN_STOCK, 0), reverse("assets:list")),
            (_("In use"), by_status.get(Status.IN_USE, 0), reverse("assets:list")),
            (_("On loan"), by_status.get(Status.ON_LOAN, 0), reverse("assets:list")),
            (_("In repair"), by_status.get(Status.IN_REPAIR, 0), reverse("assets:repair_list")),
            (_("Overdue returns"), overdue, reverse("assets:list")),
            (_("Warranty ending within 30 days"), warranty, reverse("assets:list")),
            (_("Unconfirmed handovers"), unconfirmed, reverse("assets:unconfirmed")),
            (_("Pending approvals"), approvals, reverse("approvals:list")),
            (_("Open asset requests"), requests, reverse("requests:list")),
        ]
        yield Occurrence(
            object_ref="assets.digest",
            occurrence=occurrence,
            recipients=clerks,
            subject=_("Weekly asset digest, week %(week)d of %(year)d")
            % {"week": week, "year": year},
            body="\n".join(f"{label}: {count}" for label, count, _url in lines),
            link=reverse("assets:list"),
            context={
                "digest": [
                    {"label": str(label), "count": count, "url": url} for label, count, url in lines
                ]
            },
        )


def _status_counts() -> dict[str, int]:
    return dict(
        Asset.objects.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")
    )
