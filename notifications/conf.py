"""Settings of the notifications app, with their defaults (``itassets/settings.py`` reads them
from the environment)."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # Seconds a webhook or SMTP server has to answer.
    "NOTIFICATIONS_TIMEOUT": 5.0,
    # Attempts per delivery before it is given up (the first one included).
    "NOTIFICATIONS_MAX_ATTEMPTS": 5,
    # Retry n waits BASE * 2**(n-1) seconds (60, 120, 240, 480 s).
    "NOTIFICATIONS_RETRY_BASE_SECONDS": 60,
    # A queued delivery whose task has not run after this long is sent by the sweeper.
    "NOTIFICATIONS_STUCK_AFTER_SECONDS": 600,
    # Heartbeat thresholds of the banner and /ready warnings.
    "NOTIFICATIONS_BEAT_SILENT_SECONDS": 2 * 3600,
    "NOTIFICATIONS_WORKER_SILENT_SECONDS": 10 * 60,
    # Global robots from the environment (used when no default Robot row of that kind exists).
    "DINGTALK_WEBHOOK_URL": "",
    "DINGTALK_SECRET": "",
    "WECOM_WEBHOOK_URL": "",
    "FEISHU_WEBHOOK_URL": "",
    "FEISHU_SECRET": "",
    "NOTIFY_WEBHOOK_URL": "",
    "NOTIFY_WEBHOOK_SECRET": "",
}


def get(name: str):
    return getattr(settings, name, DEFAULTS[name])
