"""Writes of the notifications app: announce, scan reminders, send, retry, read, prefer.

- ``notify`` (events, called by domain apps after their transaction committed) and
  ``reminder_scan`` (beat, every 15 minutes) both plan deliveries the same way: for each
  recipient the channels their preferences (or their roles' defaults) choose, robot channels
  only where a robot posts for them; then insert the ``Delivery`` rows at once. The unique
  constraint (dedup_key, recipient, channel) decides who created a row: rows already there are
  skipped, a concurrent insert of the same row loses with an IntegrityError and is skipped
  too, so a reminder occurrence is never sent twice whatever runs at the same time.
- Each new row gets a task of its own (``notifications.tasks.deliver``, enqueued on commit):
  one slow or failing robot never holds up the others. ``delivery_send`` locks the row, skips
  it if it is already sent (idempotent under ``acks_late`` redelivery and duplicate tasks),
  sends, and records the outcome; temporary failures retry with exponential backoff
  (``NOTIFICATIONS_RETRY_BASE_SECONDS`` × 2ⁿ) until ``NOTIFICATIONS_MAX_ATTEMPTS``.
- ``deliveries_retry_due`` (beat, every minute) re-enqueues failed rows whose time has come and
  queued rows whose task was lost.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from celery import current_app
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from itassets.roles import ROLES

from . import channels as ch
from . import conf, registry
from .models import (
    ROBOT_CHANNELS,
    Channel,
    Delivery,
    Heartbeat,
    Notification,
    NotificationPreference,
    ReminderRule,
    Robot,
    make_dedup_key,
)
from .selectors import unread_cache_key

logger = logging.getLogger(__name__)

FALLBACK_CHANNELS = (Channel.IN_APP, Channel.EMAIL)
ALL_CHANNELS = frozenset(Channel.values)
MYSQL_DUPLICATE = 1062
MYSQL_RETRYABLE = (1205, 1213)  # lock wait timeout, deadlock


# --- Planning: who gets what over which channel -----------------------------------------------


def env_robot(kind: str) -> ch.RobotConfig | None:
    """The robot configured in the environment for ``kind`` (DINGTALK_WEBHOOK_URL, ...)."""
    url_setting, secret_setting = {
        Channel.DINGTALK: ("DINGTALK_WEBHOOK_URL", "DINGTALK_SECRET"),
        Channel.WECOM: ("WECOM_WEBHOOK_URL", None),
        Channel.FEISHU: ("FEISHU_WEBHOOK_URL", "FEISHU_SECRET"),
        Channel.WEBHOOK: ("NOTIFY_WEBHOOK_URL", "NOTIFY_WEBHOOK_SECRET"),
    }[kind]
    url = conf.get(url_setting)
    if not url:
        return None
    secret = conf.get(secret_setting) if secret_setting else ""
    return ch.RobotConfig(kind=kind, url=url, secret=secret or "", name="env")


def robot_config(robot: Robot) -> ch.RobotConfig:
    return ch.RobotConfig(
        kind=robot.kind, url=robot.url, secret=robot.secret, name=robot.name, id=robot.pk
    )


class Planner:
    """Decides the (recipient, channel, robot) rows of a message; caches what it read, so a
    scan of thousands of occurrences reads each user's roles, preferences and departments once.
    """

    def __init__(self):
        robots = list(Robot.objects.filter(enabled=True))
        self.department_robots = {
            (r.department_id, r.kind): r for r in robots if r.department_id and not r.is_default
        }
        self.default_robots = {r.kind: r for r in robots if r.is_default}
        self.env_robots = {kind: env_robot(kind) for kind in ROBOT_CHANNELS}
        self.robot_kinds = {
            kind
            for kind in ROBOT_CHANNELS
            if self.env_robots[kind]
            or kind in self.default_robots
            or any(k == kind for _d, k in self.department_robots)
        }
        self._roles: dict[int, set[str] | None] = {}  # None: inactive or missing user
        self._departments: dict[int, list[int]] = {}
        self._prefs: dict[tuple[int, str], dict[str, bool]] = {}
        self._group_roles = {r.group: r.slug for r in ROLES.values()}

    def prime(self, user_ids: Sequence[int], event_type: str) -> None:
        """Read what planning needs about ``user_ids`` (only what is not cached yet)."""
        new = [u for u in user_ids if u not in self._roles]
        if new:
            user_model = get_user_model()
            for chunk in _chunks(new, 1000):
                found = {}
                for uid, active, superuser in user_model.objects.filter(pk__in=chunk).values_list(
                    "pk", "is_active", "is_superuser"
                ):
                    found[uid] = {"admin"} if superuser else set()
                    if not active:
                        found[uid] = None
                memberships = user_model.groups.through.objects.filter(user_id__in=chunk)
                for uid, group in memberships.values_list("user_id", "group__name"):
                    slug = self._group_roles.get(group)
                    if slug and found.get(uid) is not None:
                        found[uid].add(slug)
                for uid in chunk:
                    self._roles[uid] = found.get(uid)
            directory = registry.directory()
            if directory is not None and self.robot_kinds:
                self._departments.update(directory.departments_of(new))
        missing = [u for u in user_ids if (u, event_type) not in self._prefs]
        if missing:
            for uid in missing:
                self._prefs[(uid, event_type)] = {}
            for chunk in _chunks(missing, 1000):
                rows = NotificationPreference.objects.filter(
                    user_id__in=chunk, event_type=event_type
                ).values_list("user_id", "channel", "enabled")
                for uid, channel, enabled in rows:
                    self._prefs[(uid, event_type)][channel] = enabled

    def channels(self, user_id: int, event_type: str) -> set[str]:
        """The channels ``user_id`` wants ``event_type`` on (explicit choice, else default)."""
        roles = self._roles.get(user_id)
        if roles is None:
            return set()
        wanted = default_channels(event_type, roles)
        for channel, enabled in self._prefs.get((user_id, event_type), {}).items():
            if enabled:
                wanted.add(channel)
            else:
                wanted.discard(channel)
        return wanted

    def robot(self, user_id: int, kind: str) -> tuple[bool, int | None]:
        """(is there a robot for this user, the Robot id or None for the environment's)."""
        for department_id in self._departments.get(user_id, []):
            robot = self.department_robots.get((department_id, kind))
            if robot is not None:
                return True, robot.pk
        if kind in self.default_robots:
            return True, self.default_robots[kind].pk
        if self.env_robots.get(kind):
            return True, None
        return False, None

    def rows(
        self,
        *,
        event_type: str,
        recipients: Sequence[int],
        dedup_key: str,
        payload: str,
        object_ref: str = "",
        rule_id: int | None = None,
        allowed: Iterable[str] | None = None,
    ) -> list[Row]:
        """The delivery rows of one message (``payload``: its JSON text)."""
        self.prime(recipients, event_type)
        allowed = set(allowed) if allowed else ALL_CHANNELS
        rows = []
        for uid in recipients:
            for channel in sorted(self.channels(uid, event_type) & allowed):
                robot_id = None
                if channel in ROBOT_CHANNELS:
                    exists, robot_id = self.robot(uid, channel)
                    if not exists:
                        continue
                rows.append(
                    Row(
                        dedup_key,
                        uid,
                        channel,
                        robot_id,
                        event_type,
                        rule_id,
                        object_ref[:100],
                        payload,
                    )
                )
        return rows


def default_channels(event_type: str, roles: set[str]) -> set[str]:
    """The channels an event type uses by default for a user with ``roles``."""
    et = registry.event_type(event_type)
    if et is None:
        return set(FALLBACK_CHANNELS)
    wanted = set(et.defaults.get("*", ()))
    for role in roles:
        wanted |= set(et.defaults.get(role, ()))
    return wanted


# --- Inserting deliveries -----------------------------------------------------------------------


class Row(NamedTuple):
    """A delivery to insert (the columns the planner decides)."""

    dedup_key: str
    recipient_id: int
    channel: str
    robot_id: int | None
    event_type: str
    rule_id: int | None
    object_ref: str
    payload: str  # JSON text

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.dedup_key, self.recipient_id, self.channel)


INSERT_COLUMNS = (
    "dedup_key",
    "recipient_id",
    "channel",
    "robot_id",
    "event_type",
    "rule_id",
    "object_ref",
    "payload",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "created_at",
)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _error_code(exc: Exception) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _existing(keys: Iterable[str]) -> set[tuple[str, int, str]]:
    found = set()
    for chunk in _chunks(sorted(set(keys)), 1000):
        found.update(
            Delivery.objects.filter(dedup_key__in=chunk).values_list(
                "dedup_key", "recipient_id", "channel"
            )
        )
    return found


def _insert_batch(rows: list[Row], *, now: datetime, want_ids: bool) -> list[int]:
    """Insert the rows not already there (one multi-row INSERT, no model instances: a scan
    may create hundreds of thousands). Returns the ids of the rows this call created (only
    when ``want_ids``; otherwise their number as a list of zeros)."""
    unique = {row.key: row for row in rows}
    existing = _existing(row.dedup_key for row in unique.values())
    # One order for every scan (fewer lock waits and deadlocks between concurrent scans).
    fresh = [unique[k] for k in sorted(unique) if k not in existing]
    if not fresh:
        return []
    table = connection.ops.quote_name(Delivery._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in INSERT_COLUMNS)
    marks = ", ".join(["%s"] * len(INSERT_COLUMNS))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 (names are ours)
    created_at = connection.ops.adapt_datetimefield_value(now)
    next_attempt = connection.ops.adapt_datetimefield_value(
        now + timedelta(seconds=conf.get("NOTIFICATIONS_STUCK_AFTER_SECONDS"))
    )
    params = [(*row, Delivery.Status.QUEUED, 0, "", next_attempt, created_at) for row in fresh]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, params)
    except IntegrityError:
        # Another scan inserted some of these rows since we looked (its transaction has
        # committed now: ours waited for it). Look again and insert the rest; row by row if
        # that collides too: the rows that collide lose, which is the deduplication working.
        existing = _existing(row.dedup_key for row in fresh)
        params = [p for p, row in zip(params, fresh, strict=True) if row.key not in existing]
        fresh = [row for row in fresh if row.key not in existing]
        if not fresh:
            return []
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, params)
        except IntegrityError:
            return _insert_one_by_one(sql, params)
        return _ids_of(fresh) if want_ids else [0] * len(fresh)
    if not want_ids:
        return [0] * len(fresh)
    return _ids_of(fresh)


def _insert_one_by_one(sql: str, params: list[tuple]) -> list[int]:
    ids = []
    for values in params:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, values)
                ids.append(cursor.lastrowid)
        except IntegrityError as exc:
            if _error_code(exc) not in (MYSQL_DUPLICATE, None):
                logger.warning("delivery %s not created: %s", values[:3], exc)
    return ids


def _ids_of(rows: list[Row]) -> list[int]:
    """The ids of ``rows`` just inserted (looked up by their unique key)."""
    wanted = {row.key for row in rows}
    ids = []
    for chunk in _chunks(sorted({row.dedup_key for row in rows}), 1000):
        for pk, key, recipient, channel in Delivery.objects.filter(dedup_key__in=chunk).values_list(
            "pk", "dedup_key", "recipient_id", "channel"
        ):
            if (key, recipient, channel) in wanted:
                ids.append(pk)
    return ids


def deliveries_create(
    rows: list[Row], *, now: datetime | None = None, dispatch: bool = True
) -> int:
    """Insert deliveries (skipping ones that exist) and, after commit, enqueue a send task for
    each one created here; returns how many were created. Retries a batch that hit a
    deadlock when no outer transaction is open (inside one, the deadlock rolled back more)."""
    now = now or timezone.now()
    created = 0
    for batch in _chunks(rows, 2000):
        for attempt in range(3):
            try:
                with transaction.atomic():
                    ids = _insert_batch(batch, now=now, want_ids=dispatch)
                    if dispatch and ids:
                        transaction.on_commit(partial(_enqueue, ids))
                break
            except OperationalError as exc:
                if (
                    _error_code(exc) not in MYSQL_RETRYABLE
                    or attempt == 2
                    or connection.in_atomic_block
                ):
                    raise
                time.sleep(0.05 * (attempt + 1))
        created += len(ids)
    return created


def _follow_up_options() -> dict:
    """Tasks enqueued by a task (a scan's deliveries, a delivery's retry) go to the queue it
    came from, so a worker dedicated to one queue finishes the whole chain."""
    from celery import current_task

    if not current_task or current_task.request.called_directly:  # a Proxy: test its truth
        return {}
    queue = (current_task.request.delivery_info or {}).get("routing_key")
    return {"queue": queue} if queue else {}


def _enqueue(ids: Sequence[int], *, countdown: float | None = None) -> None:
    from .tasks import deliver

    options = _follow_up_options()
    for delivery_id in ids:
        try:
            deliver.apply_async((delivery_id,), countdown=countdown, **options)
        except Exception:  # the broker is down: the retry sweeper sends these later
            logger.exception("could not enqueue delivery %s; the sweeper will retry", delivery_id)


def _payload_dict(*, subject: str, body: str, link: str, context: dict | None) -> dict:
    return {
        "subject": str(subject)[:300],
        "body": str(body),
        "link": link,
        "context": context or {},
    }


def _payload(**kwargs) -> str:
    return json.dumps(_payload_dict(**kwargs), ensure_ascii=False, cls=DjangoJSONEncoder)


def notify(
    *,
    event_type: str,
    recipients: Sequence,
    subject: str,
    body: str = "",
    context: dict | None = None,
    link: str = "",
    dedup_key: str | None = None,
    object_ref: str = "",
    channels: Iterable[str] | None = None,
) -> int:
    """Announce an event to ``recipients`` (users or user ids) over the channels each chose.

    ``dedup_key`` names the event (e.g. ``"assets.event:42"``): announcing it again creates
    nothing. Returns the number of deliveries created. Call it after commit (domain apps do,
    from signals sent with ``transaction.on_commit``)."""
    user_ids = list(dict.fromkeys(getattr(r, "pk", r) for r in recipients if r is not None))
    if not user_ids:
        return 0
    key = make_dedup_key(dedup_key) if dedup_key else f"{event_type}:{uuid.uuid4().hex}"
    rows = Planner().rows(
        event_type=event_type,
        recipients=user_ids,
        dedup_key=key,
        payload=_payload(subject=subject, body=body, link=link, context=context),
        object_ref=object_ref,
        allowed=channels,
    )
    return deliveries_create(rows)


# --- Reminder scan ------------------------------------------------------------------------------


@dataclass
class ScanResult:
    rules: list[str] = field(default_factory=list)
    occurrences: int = 0  # due now
    new: int = 0  # of which not announced before
    created: int = 0  # deliveries
    skipped: list[str] = field(default_factory=list)  # kinds nobody registered
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "rules": self.rules,
            "occurrences": self.occurrences,
            "new": self.new,
            "created": self.created,
            "skipped": self.skipped,
            "failed": self.failed,
        }


def _announced(keys: Sequence[str]) -> set[str]:
    """The keys that have deliveries already (the unique index's first column: index only)."""
    found = set()
    for chunk in _chunks(keys, 1000):
        found.update(
            Delivery.objects.filter(dedup_key__in=chunk)
            .order_by()
            .values_list("dedup_key", flat=True)
            .distinct()
        )
    return found


def reminder_scan(
    *,
    now: datetime | None = None,
    kinds: Sequence[str] | None = None,
    dispatch: bool = True,
    batch_size: int = 1000,
) -> ScanResult:
    """Evaluate every enabled reminder rule and create the deliveries of what is due.

    Safe to run at any time and any number of times at once: each (rule, object, occurrence)
    becomes deliveries once. Occurrences already announced are skipped before anything is
    read about them. One rule's failure is logged and does not stop the others."""
    now = now or timezone.now()
    result = ScanResult()
    rules = ReminderRule.objects.filter(enabled=True).order_by("kind")
    if kinds:
        rules = rules.filter(kind__in=list(kinds))
    planner = Planner()
    for rule in rules:
        reminder = registry.reminder(rule.kind)
        if reminder is None:
            logger.warning("reminder rule %r: no evaluator registered, skipped", rule.kind)
            result.skipped.append(rule.kind)
            continue
        result.rules.append(rule.kind)
        try:
            for batch in _chunks(reminder.evaluate(rule, now), batch_size):
                result.occurrences += len(batch)
                keys = [rule.dedup_key(o.object_ref, o.occurrence) for o in batch]
                announced = _announced(keys)
                new = [(k, o) for k, o in zip(keys, batch, strict=True) if k not in announced]
                if not new:
                    continue
                result.new += len(new)
                if reminder.complete is not None:
                    reminder.complete(rule, now, [o for _k, o in new])
                # Roles, preferences and departments of the whole batch in a few queries.
                planner.prime(
                    list(dict.fromkeys(u for _k, o in new for u in o.recipients)),
                    reminder.event_type,
                )
                rows = []
                for key, occ in new:
                    if not occ.recipients:
                        continue
                    rows += planner.rows(
                        event_type=reminder.event_type,
                        recipients=list(dict.fromkeys(occ.recipients)),
                        dedup_key=key,
                        payload=_payload(
                            subject=occ.subject, body=occ.body, link=occ.link, context=occ.context
                        ),
                        object_ref=occ.object_ref,
                        rule_id=rule.pk,
                        allowed=rule.channels,
                    )
                result.created += deliveries_create(rows, now=now, dispatch=dispatch)
        except Exception:
            logger.exception("reminder rule %r failed", rule.kind)
            result.failed.append(rule.kind)
    return result


# --- Sending ------------------------------------------------------------------------------------


def _contact(user) -> registry.Contact:
    directory = registry.directory()
    contact = directory.contacts([user.pk]).get(user.pk) if directory else None
    if contact is None:
        contact = registry.Contact(
            name=user.get_full_name() or user.get_username(), email=user.email or ""
        )
    return contact


def _robot_for(delivery: Delivery) -> ch.RobotConfig:
    if delivery.robot_id is not None:
        robot = Robot.objects.filter(pk=delivery.robot_id).first()
        if robot is not None:
            if not robot.enabled:
                raise ch.PermanentError(f"Robot “{robot.name}” is disabled")
            return robot_config(robot)
    config = env_robot(delivery.channel)
    if config is None:
        raise ch.PermanentError(f"No {delivery.channel} robot is configured for this recipient")
    return config


def _send_in_app(delivery: Delivery, message: ch.Message) -> None:
    Notification.objects.get_or_create(
        delivery=delivery,
        defaults={
            "user_id": delivery.recipient_id,
            "event_type": delivery.event_type,
            "title": message.subject[:300],
            "body": message.body,
            "link": message.link[:500],
            "created_at": delivery.created_at,
        },
    )
    key = unread_cache_key(delivery.recipient_id)
    transaction.on_commit(lambda: cache.delete(key))


def _send(delivery: Delivery) -> None:
    user = get_user_model().objects.filter(pk=delivery.recipient_id).first()
    if user is None or not user.is_active:
        raise ch.PermanentError("The recipient's account is missing or inactive")
    payload = delivery.payload or {}
    message = ch.Message(
        delivery_id=delivery.pk,
        event_type=delivery.event_type,
        subject=str(payload.get("subject", "")),
        body=str(payload.get("body", "")),
        link=str(payload.get("link", "")),
        recipient_id=user.pk,
        recipient_name=user.get_full_name() or user.get_username(),
        contact=registry.Contact(),
        context=payload.get("context") or {},
    )
    if delivery.channel == Channel.IN_APP:
        _send_in_app(delivery, message)
        return
    message.contact = _contact(user)
    message.recipient_name = message.contact.name or message.recipient_name
    if delivery.channel == Channel.EMAIL:
        ch.send_email(message)
        return
    sender = ch.ROBOT_SENDERS.get(delivery.channel)
    if sender is None:
        raise ch.PermanentError(f"Unknown channel {delivery.channel!r}")
    sender(_robot_for(delivery), message)


def retry_delay(attempts: int, error: ch.DeliveryError | None = None) -> float:
    delay = float(conf.get("NOTIFICATIONS_RETRY_BASE_SECONDS")) * 2 ** max(attempts - 1, 0)
    if error is not None and error.retry_after:
        delay = max(delay, float(error.retry_after))
    return delay


def delivery_send(*, delivery_id: int, now: datetime | None = None) -> str:
    """Send one delivery if it is still to be sent; returns its status afterwards (or "busy"
    when another worker holds it, "missing" when it is gone, "not_due" before its retry time).

    The row stays locked while sending, so a duplicate task waits for nothing (skip_locked)
    and finds the row sent. Never raises for a failed send: the reason is stored on the row."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update(skip_locked=True).filter(pk=delivery_id)
        delivery = delivery.first()
        if delivery is None:
            return "busy" if Delivery.objects.filter(pk=delivery_id).exists() else "missing"
        if delivery.status in (Delivery.Status.SENT, Delivery.Status.GIVEN_UP):
            return delivery.status
        if (
            delivery.status == Delivery.Status.FAILED
            and delivery.next_attempt_at
            and delivery.next_attempt_at > now
        ):
            return "not_due"
        delivery.attempts += 1
        error: ch.DeliveryError | None = None
        try:
            _send(delivery)
        except ch.DeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug in one sender must not stop the others
            logger.exception("delivery %s: unexpected error", delivery.pk)
            error = ch.TemporaryError(f"{type(exc).__name__}: {exc}")
        countdown = None
        if error is None:
            delivery.status = Delivery.Status.SENT
            delivery.sent_at = timezone.now()
            delivery.last_error = ""
            delivery.next_attempt_at = None
        else:
            delivery.last_error = str(error)[:2000]
            max_attempts = int(conf.get("NOTIFICATIONS_MAX_ATTEMPTS"))
            if not error.retry or delivery.attempts >= max_attempts:
                delivery.status = Delivery.Status.GIVEN_UP
                delivery.next_attempt_at = None
                logger.warning(
                    "delivery %s given up after %s attempt(s): %s",
                    delivery.pk,
                    delivery.attempts,
                    error,
                )
            else:
                countdown = retry_delay(delivery.attempts, error)
                delivery.status = Delivery.Status.FAILED
                delivery.next_attempt_at = now + timedelta(seconds=countdown)
                logger.info("delivery %s failed, retry in %ss: %s", delivery.pk, countdown, error)
        delivery.save(
            update_fields=["status", "attempts", "last_error", "next_attempt_at", "sent_at"]
        )
        if countdown is not None and not current_app.conf.task_always_eager:
            # Eager mode (embedded, tests) leaves retries to the sweeper instead of recursing.
            transaction.on_commit(partial(_enqueue, [delivery.pk], countdown=countdown))
    return delivery.status


def deliveries_retry_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Enqueue failed deliveries whose retry time has come and queued ones whose task was lost
    (older than ``NOTIFICATIONS_STUCK_AFTER_SECONDS``). Returns how many were enqueued."""
    now = now or timezone.now()
    ids = list(
        Delivery.objects.filter(
            status__in=(Delivery.Status.QUEUED, Delivery.Status.FAILED), next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue(ids)
    return len(ids)


def delivery_resend(*, delivery: Delivery) -> Delivery:
    """An administrator sends a failed or given-up delivery again (attempts start over)."""
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status == Delivery.Status.SENT:
            return locked
        locked.status = Delivery.Status.QUEUED
        locked.attempts = 0
        locked.next_attempt_at = timezone.now() + timedelta(
            seconds=conf.get("NOTIFICATIONS_STUCK_AFTER_SECONDS")
        )
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        transaction.on_commit(partial(_enqueue, [locked.pk]))
    return locked


# --- In-app notifications -----------------------------------------------------------------------


def notification_mark_read(*, user, notification_id: int) -> Notification | None:
    """Mark one of ``user``'s notifications read (None: not theirs or not found)."""
    notification = Notification.objects.filter(pk=notification_id, user=user).first()
    if notification is None:
        return None
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        cache.delete(unread_cache_key(user.pk))
    return notification


def notifications_mark_all_read(*, user) -> int:
    count = Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    cache.delete(unread_cache_key(user.pk))
    return count


# --- Preferences --------------------------------------------------------------------------------


@transaction.atomic
def preferences_save(*, user, choices: dict[tuple[str, str], bool]) -> int:
    """Store ``{(event_type, channel): enabled}`` for ``user``; returns rows changed."""
    existing = {
        (p.event_type, p.channel): p
        for p in NotificationPreference.objects.select_for_update().filter(user=user)
    }
    changed = 0
    for (event_type, channel), enabled in choices.items():
        pref = existing.get((event_type, channel))
        if pref is None:
            NotificationPreference.objects.create(
                user=user, event_type=event_type, channel=channel, enabled=bool(enabled)
            )
            changed += 1
        elif pref.enabled != bool(enabled):
            pref.enabled = bool(enabled)
            pref.save(update_fields=["enabled"])
            changed += 1
    return changed


# --- Heartbeat ----------------------------------------------------------------------------------


def heartbeat_record(*, name: str, detail: str = "", now: datetime | None = None) -> None:
    """Record that the scheduler or a worker is alive."""
    now = now or timezone.now()
    values = {"last_seen": now, "detail": detail[:200], "runs": F("runs") + 1}
    if Heartbeat.objects.filter(name=name).update(**values):
        return
    try:
        with transaction.atomic():
            Heartbeat.objects.create(name=name, last_seen=now, detail=detail[:200], runs=1)
    except IntegrityError:
        Heartbeat.objects.filter(name=name).update(**values)


# --- Test messages ------------------------------------------------------------------------------

TEST_EVENT = "test"


def test_message_send(*, user, channel: str, robot: Robot | None = None) -> Delivery:
    """Send one test message to ``user`` over ``channel`` now (one attempt, no retry) and
    return its delivery, whose status and ``last_error`` tell the outcome. For a robot
    channel without ``robot``, the robot that posts for the user is used."""
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext as _

    robot_id = robot.pk if robot is not None else None
    if channel in ROBOT_CHANNELS and robot is None:
        planner = Planner()
        planner.prime([user.pk], TEST_EVENT)
        exists, robot_id = planner.robot(user.pk, channel)
        if not exists:
            raise ValueError(
                f"No {channel} robot is configured (admin: Robots, or the environment)"
            )
    with translation.override(settings.LANGUAGE_CODE):
        payload = _payload_dict(
            subject=_("Test message from %(site)s") % {"site": settings.ORGANISATION_NAME},
            body=_("If you can read this, notifications over this channel work."),
            link="/notifications/",
            context={},
        )
    delivery = Delivery.objects.create(
        recipient=user,
        channel=channel,
        robot_id=robot_id,
        event_type=TEST_EVENT,
        dedup_key=f"{TEST_EVENT}:{uuid.uuid4().hex}",
        payload=payload,
    )
    delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    if delivery.status == Delivery.Status.FAILED:
        delivery.status = Delivery.Status.GIVEN_UP
        delivery.next_attempt_at = None
        delivery.save(update_fields=["status", "next_attempt_at"])
    return delivery
