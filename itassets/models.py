"""Project-level records: background import and export jobs of the web pages.

The files live in the default storage (the private bucket, or var/media in embedded mode)
and are only ever served through views that check who asks.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def import_upload_to(instance, filename):
    ext = Path(filename).suffix.lower()[:10]
    return f"imports/{uuid.uuid4().hex}{ext}"


def export_upload_to(instance, filename):
    ext = Path(filename).suffix.lower()[:10]
    return f"exports/{uuid.uuid4().hex}{ext}"


class ImportJob(models.Model):
    """One uploaded file on its way through validation (a preview), confirmation and import,
    run by Celery tasks (``itassets.importing.tasks``) that call ``import_file``."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be checked")
        VALIDATING = "validating", _("Checking")
        VALID = "valid", _("Ready to import")
        INVALID = "invalid", _("Has errors")
        QUEUED = "queued", _("Waiting to be imported")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    RUNNING = (State.PENDING, State.VALIDATING, State.QUEUED, State.IMPORTING)

    kind = models.CharField(_("kind"), max_length=30)
    file = models.FileField(_("file"), upload_to=import_upload_to, max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    options = models.JSONField(_("options"), default=dict, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.PENDING, db_index=True
    )
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created_count = models.PositiveIntegerField(_("new"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    # The first errors (row, column, value, reason), the warnings, and the bad rows' cells
    # for the preview; every error is in the error workbook.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    preview = models.JSONField(_("preview"), default=dict, blank=True)
    error_file = models.FileField(
        _("error workbook"), upload_to=import_upload_to, max_length=300, blank=True
    )
    message = models.TextField(_("message"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "created_at"], name="importjob_user_time")]

    def __str__(self):
        return f"{self.original_name} ({self.get_state_display()})"

    def get_absolute_url(self):
        return reverse("imports:job", args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.state in self.RUNNING


class ExportJob(models.Model):
    """A large export written in the background (``assets.tasks.asset_export_run``)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Writing")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=30, default="assets")
    fmt = models.CharField(_("format"), max_length=10)
    query = models.TextField(_("filters"), blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.PENDING
    )
    rows = models.PositiveIntegerField(_("rows"), default=0)
    file = models.FileField(_("file"), upload_to=export_upload_to, max_length=300, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind}.{self.fmt} ({self.get_state_display()})"

    def get_absolute_url(self):
        return reverse("exports:job", args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.state in (self.State.PENDING, self.State.RUNNING)
