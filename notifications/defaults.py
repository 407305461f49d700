"""Default reminder rules and the beat schedule, installed by the data migration
``0002_defaults`` (and by tests whose database was flushed). Both functions take the models
to use, so the migration passes its historical models; they never overwrite what an
administrator changed (get_or_create by natural key)."""

from __future__ import annotations

import json

TIMEZONE = "Asia/Shanghai"

DEFAULT_RULES = [
    # kind, lead days, params
    ("warranty_ending", [30, 7], {}),
    ("loan_due", [3], {"overdue_every_days": 3, "cc_head_after_round": 2}),
    ("assignment_unconfirmed", [], {"after_days": 3}),
    ("approval_pending", [], {"after_hours": 24}),
    ("weekly_digest", [], {"weekday": 1, "hour": 8}),
]

# name, task, schedule ("every", minutes) or ("crontab", minute, hour, day_of_week),
# kwargs, expire_seconds
PERIODIC_TASKS = [
    ("notifications: reminder scan", "notifications.reminder_scan", ("every", 15), {}, 15 * 60),
    ("notifications: retry sweeper", "notifications.retry_due", ("every", 1), {}, 60),
    ("notifications: heartbeat", "notifications.beat_tick", ("every", 1), {}, 60),
    (
        "notifications: weekly digest",
        "notifications.reminder_scan",
        ("crontab", "0", "8", "1"),
        {"kinds": ["weekly_digest"]},
        3600,
    ),
]


def install_rules(reminder_rule_model) -> None:
    for kind, lead_days, params in DEFAULT_RULES:
        reminder_rule_model.objects.get_or_create(
            kind=kind, defaults={"lead_days": lead_days, "params": params, "channels": []}
        )


def install_periodic_tasks(
    periodic_task_model, interval_model, crontab_model, *, queue: str | None = None
) -> None:
    for name, task, schedule, kwargs, expire_seconds in PERIODIC_TASKS:
        if periodic_task_model.objects.filter(name=name).exists():
            continue
        fields = {
            "name": name,
            "task": task,
            "kwargs": json.dumps(kwargs),
            "expire_seconds": expire_seconds,
            "queue": queue,
            "enabled": True,
        }
        if schedule[0] == "every":
            fields["interval"], _ = interval_model.objects.get_or_create(
                every=schedule[1], period="minutes"
            )
        else:
            _kind, minute, hour, day_of_week = schedule
            fields["crontab"], _ = crontab_model.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_week=day_of_week,
                day_of_month="*",
                month_of_year="*",
                timezone=TIMEZONE,
            )
        periodic_task_model.objects.create(**fields)


def install(*, apps=None) -> None:
    """Everything, with the current models (tests) or a migration's ``apps``."""
    if apps is None:
        from django.apps import apps
    install_rules(apps.get_model("notifications", "ReminderRule"))
    install_periodic_tasks(
        apps.get_model("django_celery_beat", "PeriodicTask"),
        apps.get_model("django_celery_beat", "IntervalSchedule"),
        apps.get_model("django_celery_beat", "CrontabSchedule"),
    )
