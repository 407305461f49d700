"""Reads of the notifications app: a user's notifications and unread count, their preferences,
and the scheduler's health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from itassets.roles import user_role_slugs

from . import conf, registry
from .models import (
    ROBOT_CHANNELS,
    Channel,
    Heartbeat,
    Notification,
    NotificationPreference,
    Robot,
)

UNREAD_CACHE_SECONDS = 15
SCHEDULER_CACHE_KEY = "notifications:scheduler-problems"
SCHEDULER_CACHE_SECONDS = 60


def unread_cache_key(user_id: int) -> str:
    return f"notifications:unread:{user_id}"


def notification_list(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first (index user, created_at, id)."""
    qs = Notification.objects.filter(user=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def unread_count(*, user) -> int:
    """One COUNT on the (user, read_at) index, cached for a few seconds; reading or receiving
    a notification clears the cache."""
    if not getattr(user, "is_authenticated", False):
        return 0
    key = unread_cache_key(user.pk)
    count = cache.get(key)
    if count is None:
        count = Notification.objects.filter(user=user, read_at__isnull=True).count()
        cache.set(key, count, UNREAD_CACHE_SECONDS)
    return count


def unread_count_cached(*, user) -> int | None:
    """The cached unread count, or None: no database query (pages render the badge with it;
    on a miss the badge loads itself, so no page pays for the count)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return cache.get(unread_cache_key(user.pk))


# --- Preferences --------------------------------------------------------------------------------


def available_channels() -> list[str]:
    """In-app, email, and the robot kinds that have a robot (a Robot row or the environment)."""
    from .services import env_robot

    kinds = set(Robot.objects.filter(enabled=True).values_list("kind", flat=True).distinct())
    kinds |= {kind for kind in ROBOT_CHANNELS if env_robot(kind)}
    return [Channel.IN_APP, Channel.EMAIL] + [k for k in ROBOT_CHANNELS if k in kinds]


@dataclass
class PreferenceRow:
    event_type: registry.EventType
    cells: list[tuple[str, bool]]  # (channel, enabled) in the order of the channels


def preference_matrix(*, user, channels: list[str] | None = None) -> list[PreferenceRow]:
    """Each registered event type × channel with what applies to ``user`` now."""
    from .services import default_channels

    channels = channels if channels is not None else available_channels()
    explicit = {
        (p.event_type, p.channel): p.enabled
        for p in NotificationPreference.objects.filter(user=user)
    }
    roles = user_role_slugs(user)
    rows = []
    for et in registry.event_types():
        defaults = default_channels(et.key, roles)
        cells = [(c, explicit.get((et.key, c), c in defaults)) for c in channels]
        rows.append(PreferenceRow(event_type=et, cells=cells))
    return rows


# --- Scheduler health ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulerProblem:
    name: str  # Heartbeat.BEAT or Heartbeat.WORKER
    last_seen: datetime | None
    threshold: timedelta

    @property
    def threshold_text(self) -> str:
        return _duration(self.threshold)

    def describe(self) -> str:
        """Plain English for /ready (operations read it, not end users)."""
        what = "scheduler (celery beat) silent" if self.name == Heartbeat.BEAT else "no worker"
        limit = _duration(self.threshold)
        if self.last_seen is None:
            return f"{what}: never seen (expected at least every {limit})"
        return f"{what} for more than {limit} (last seen {self.last_seen.isoformat()})"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def scheduler_problems(*, now: datetime | None = None) -> list[SchedulerProblem]:
    """Whether beat ticked in the last 2 h and a worker ran in the last 10 min.

    Nothing to report when tasks run eagerly (embedded mode has no beat or worker)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    now = now or timezone.now()
    seen = dict(Heartbeat.objects.values_list("name", "last_seen"))
    problems = []
    for name, setting in (
        (Heartbeat.BEAT, "NOTIFICATIONS_BEAT_SILENT_SECONDS"),
        (Heartbeat.WORKER, "NOTIFICATIONS_WORKER_SILENT_SECONDS"),
    ):
        threshold = timedelta(seconds=float(conf.get(setting)))
        last = seen.get(name)
        if last is None or now - last > threshold:
            problems.append(SchedulerProblem(name=name, last_seen=last, threshold=threshold))
    return problems


def scheduler_problems_cached() -> list[SchedulerProblem]:
    """``scheduler_problems`` cached for a minute (shown on every page to administrators)."""
    problems = cache.get(SCHEDULER_CACHE_KEY)
    if problems is None:
        problems = scheduler_problems()
        cache.set(SCHEDULER_CACHE_KEY, problems, SCHEDULER_CACHE_SECONDS)
    return problems


def scheduler_warnings() -> list[str]:
    """The /ready warnings (``itassets.health.ready_warnings``)."""
    return [p.describe() for p in scheduler_problems()]
