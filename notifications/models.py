"""Notifications: reminder rules, deliveries (one row per message per channel), in-app messages,
group robots, per-user preferences and the scheduler heartbeat.

This app imports no domain app. Domain apps (assets, inventory) call
``notifications.services.notify`` and register reminder rules, event types and directory look-ups
in ``notifications.registry``. A robot's department is therefore stored as the department's id and
name (no foreign key into assets): see ``Robot``.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL
DEDUP_KEY_MAX = 200


def make_dedup_key(*parts: object) -> str:
    """``"a:b:c"``; a key longer than the column keeps its start and ends in a hash."""
    key = ":".join(str(p) for p in parts)
    if len(key) <= DEDUP_KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{key[: DEDUP_KEY_MAX - 41]}~{digest}"


class Channel(models.TextChoices):
    IN_APP = "in_app", _("In-app")
    EMAIL = "email", _("Email")
    DINGTALK = "dingtalk", _("DingTalk")
    WECOM = "wecom", _("WeCom")
    FEISHU = "feishu", _("Feishu")
    WEBHOOK = "webhook", _("Webhook")


# Channels that post to a group robot (a Robot row or the *_WEBHOOK_URL settings).
ROBOT_CHANNELS = (Channel.DINGTALK, Channel.WECOM, Channel.FEISHU, Channel.WEBHOOK)


class ReminderRule(models.Model):
    """A scheduled reminder (到期提醒规则): what to look for and when to remind.

    ``kind`` names a rule evaluator registered by a domain app
    (``notifications.registry.register_reminder``); a rule whose kind nobody registered is
    skipped by the scan. ``lead_days``: remind this many days before a date (each lead time is
    one occurrence, sent once). ``params``: the evaluator's own settings (e.g.
    ``{"overdue_every_days": 3}``). ``channels``: the channels this reminder may use (empty:
    all); each recipient's preferences choose among them.
    """

    kind = models.CharField(_("kind"), max_length=40, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    lead_days = models.JSONField(
        _("lead times (days)"),
        default=list,
        blank=True,
        help_text=_("Days before the date, e.g. [30, 7]. Each lead time is reminded once."),
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    channels = models.JSONField(
        _("channels"),
        default=list,
        blank=True,
        help_text=_("Channels this reminder may use; empty: every channel."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("reminder rule")
        verbose_name_plural = _("reminder rules")
        ordering = ["kind"]

    def __str__(self):
        from . import registry

        reminder = registry.reminder(self.kind)
        return str(reminder.label) if reminder else self.kind

    def clean(self):
        errors = {}
        if not isinstance(self.lead_days, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 3650
            for d in self.lead_days
        ):
            errors["lead_days"] = _("Enter a list of whole numbers of days, e.g. [30, 7].")
        if not isinstance(self.params, dict):
            errors["params"] = _('Enter a JSON object, e.g. {"after_days": 3}.')
        if not isinstance(self.channels, list) or not all(
            c in Channel.values for c in self.channels
        ):
            errors["channels"] = _("Choose channels from: %(channels)s.") % {
                "channels": ", ".join(Channel.values)
            }
        if errors:
            raise ValidationError(errors)

    def dedup_key(self, object_ref: str, occurrence: str) -> str:
        """The deduplication key of one occurrence of this rule for one object."""
        return make_dedup_key(self.kind, object_ref, occurrence)

    def occurrence_sent(self, object_ref: str, occurrence: str) -> bool:
        """Whether deliveries of this occurrence exist (lets an evaluator skip costly work)."""
        return Delivery.objects.filter(dedup_key=self.dedup_key(object_ref, occurrence)).exists()

    def param(self, name: str, default):
        value = (self.params or {}).get(name, default)
        return value if isinstance(value, type(default)) else default


class Robot(models.Model):
    """A group robot: DingTalk custom robot, WeCom group robot, Feishu custom bot or a generic
    JSON webhook.

    A robot with a department posts the messages of that department's people (and of its
    sub-departments without a robot of their own); the default robot of a kind posts everyone
    else's. The department is kept as id and name, resolved through
    ``notifications.registry`` so that this app does not depend on assets.
    """

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=[(c.value, c.label) for c in ROBOT_CHANNELS],
    )
    url = models.URLField(_("webhook URL"), max_length=500)
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        blank=True,
        help_text=_(
            "DingTalk: the SEC… secret of the robot's signing setting; Feishu: the signature "
            "key; webhook: the HMAC key of the X-Itassets-Signature header."
        ),
    )
    department_id = models.PositiveBigIntegerField(_("department"), null=True, blank=True)
    department_name = models.CharField(_("department name"), max_length=500, blank=True)
    is_default = models.BooleanField(
        _("default"), default=False, help_text=_("Posts for people without a department robot.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("robot")
        verbose_name_plural = _("robots")
        ordering = ["kind", "-is_default", "department_name", "name"]
        constraints = [
            # One group per department and kind (NULL departments do not collide).
            models.UniqueConstraint(fields=["department_id", "kind"], name="robot_dept_kind")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.name}"

    def clean(self):
        errors = {}
        if self.is_default and self.department_id:
            errors["is_default"] = _("A department robot cannot be the default robot.")
        if not self.is_default and not self.department_id:
            errors["department_id"] = _("Choose a department, or make this the default robot.")
        if self.is_default and self.enabled:
            others = Robot.objects.filter(kind=self.kind, is_default=True, enabled=True)
            if others.exclude(pk=self.pk).exists():
                errors["is_default"] = _("There is already a default robot of this kind.")
        if self.kind == Channel.DINGTALK and self.secret and not self.secret.startswith("SEC"):
            errors["secret"] = _("A DingTalk signing secret starts with “SEC”.")
        if errors:
            raise ValidationError(errors)


class Delivery(models.Model):
    """One message to one recipient over one channel: the delivery log and the send queue.

    ``dedup_key`` names what is announced (reminder: rule, object and occurrence; event: the
    event). The unique constraint on (dedup_key, recipient, channel) makes a second scan, a
    second worker or a retried task unable to create the same message twice; the send task
    locks the row and skips it once it is sent.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed, will retry")
        GIVEN_UP = "given_up", _("Given up")

    recipient = models.ForeignKey(
        USER, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    robot = models.ForeignKey(
        Robot,
        verbose_name=_("robot"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    event_type = models.CharField(_("event type"), max_length=50)
    rule = models.ForeignKey(
        ReminderRule,
        verbose_name=_("reminder rule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    object_ref = models.CharField(_("object"), max_length=100, blank=True)
    dedup_key = models.CharField(_("deduplication key"), max_length=DEDUP_KEY_MAX)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key", "recipient", "channel"], name="delivery_once"
            )
        ]
        indexes = [
            # The retry sweeper: failed (and stuck queued) rows whose time has come.
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["created_at", "id"], name="delivery_created"),
            # The admin's event type filter (its DISTINCT reads this index only).
            models.Index(fields=["event_type", "created_at"], name="delivery_event"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} → {self.recipient_id}: {self.subject}"

    @property
    def subject(self) -> str:
        return str((self.payload or {}).get("subject", ""))


class Notification(models.Model):
    """An in-app message in a user's notification centre (站内消息)."""

    user = models.ForeignKey(
        USER, verbose_name=_("user"), on_delete=models.CASCADE, related_name="notifications"
    )
    event_type = models.CharField(_("event type"), max_length=50, blank=True)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    delivery = models.OneToOneField(
        Delivery,
        verbose_name=_("delivery"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notification",
    )
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The unread badge: COUNT(*) WHERE user = ? AND read_at IS NULL.
            models.Index(fields=["user", "read_at"], name="notification_unread"),
            # The notification centre, newest first.
            models.Index(fields=["user", "created_at", "id"], name="notification_user_time"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("notifications:list")

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """Whether a user gets one event type over one channel. Without a row, the event type's
    default for the user's roles applies (``notifications.registry.EventType.defaults``)."""

    user = models.ForeignKey(
        USER,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    event_type = models.CharField(_("event type"), max_length=50)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    enabled = models.BooleanField(_("enabled"))

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        ordering = ["user", "event_type", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event_type", "channel"], name="notificationpref_unique"
            )
        ]

    def __str__(self):
        state = "on" if self.enabled else "off"
        return f"{self.user_id} {self.event_type}/{self.channel}: {state}"


class Heartbeat(models.Model):
    """When the scheduler (beat) and a worker were last seen alive."""

    BEAT = "beat"
    WORKER = "worker"

    name = models.CharField(
        _("name"),
        max_length=20,
        unique=True,
        choices=[(BEAT, _("Scheduler (beat)")), (WORKER, _("Worker"))],
    )
    last_seen = models.DateTimeField(_("last seen"))
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    runs = models.PositiveBigIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} {self.last_seen:%Y-%m-%d %H:%M:%S}"
