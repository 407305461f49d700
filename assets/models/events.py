"""Lifecycle records: events, approvals, handover receipts, repair orders, asset requests.

Rows here are written only by ``assets.services`` (lifecycle functions); admin shows them
read-only.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..lifecycle import Status
from .register import Asset, AssetModel, Category, Department, Location, Person, Supplier

USER = settings.AUTH_USER_MODEL


class AssetEvent(models.Model):
    """One step in an asset's life: a transition (or create/import), who did it and with what."""

    asset = models.ForeignKey(
        Asset, verbose_name=_("asset"), on_delete=models.CASCADE, related_name="events"
    )
    transition = models.CharField(_("action"), max_length=40, db_index=True)
    from_status = models.CharField(
        _("from status"), max_length=20, choices=Status.choices, blank=True
    )
    to_status = models.CharField(_("to status"), max_length=20, choices=Status.choices)
    # Shown, never filtered by: no index, no database constraint (as Asset.created_by).
    actor = models.ForeignKey(
        USER,
        verbose_name=_("actor"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    occurred_at = models.DateTimeField(_("time"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    handover = models.ForeignKey(
        "Handover",
        verbose_name=_("handover receipt"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )

    class Meta:
        verbose_name = _("asset event")
        verbose_name_plural = _("asset events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["asset", "occurred_at"], name="assetevent_asset_time")]

    def __str__(self):
        return f"{self.asset_id} {self.transition} {self.from_status}→{self.to_status}"

    def get_absolute_url(self):
        return reverse("assets:detail", args=[self.asset.tag])


class Handover(models.Model):
    """A handover receipt (交接单) for assign/loan/transfer/return, with employee acceptance."""

    number = models.CharField(_("number"), max_length=30, unique=True)
    transition = models.CharField(_("action"), max_length=40)
    from_person = models.ForeignKey(
        Person,
        verbose_name=_("from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    from_department = models.ForeignKey(
        Department,
        verbose_name=_("from department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_person = models.ForeignKey(
        Person,
        verbose_name=_("to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handovers_received",
    )
    to_department = models.ForeignKey(
        Department,
        verbose_name=_("to department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    location = models.ForeignKey(
        Location,
        verbose_name=_("location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by = models.ForeignKey(
        USER,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    needs_acceptance = models.BooleanField(_("needs acceptance"), default=False)
    accepted_by = models.ForeignKey(
        USER,
        verbose_name=_("accepted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    pdf = models.FileField(_("PDF"), upload_to="handovers/", blank=True, max_length=300)

    class Meta:
        verbose_name = _("handover receipt")
        verbose_name_plural = _("handover receipts")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["needs_acceptance", "accepted_at", "created_at"],
                name="handover_pending_accept",
            )
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("assets:handover_pdf", args=[self.pk])


class ApprovalRequest(models.Model):
    """An approval for a lifecycle action (request_disposal, report_lost), one or two steps."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    asset = models.ForeignKey(
        Asset, verbose_name=_("asset"), on_delete=models.CASCADE, related_name="approvals"
    )
    transition = models.CharField(_("action"), max_length=40)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.PENDING, db_index=True
    )
    previous_status = models.CharField(_("previous status"), max_length=20, choices=Status.choices)
    requested_by = models.ForeignKey(
        USER,
        verbose_name=_("requested by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    reason = models.TextField(_("reason"), blank=True)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    current_step = models.PositiveSmallIntegerField(_("current step"), default=1)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"{self.asset_id} {self.transition} ({self.get_state_display()})"


class ApprovalStep(models.Model):
    """One step of an approval: who may decide (role and, for a department head, the user)."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SKIPPED = "skipped", _("Skipped")

    request = models.ForeignKey(
        ApprovalRequest,
        verbose_name=_("approval request"),
        on_delete=models.CASCADE,
        related_name="steps",
    )
    number = models.PositiveSmallIntegerField(_("step"))
    role = models.CharField(_("role"), max_length=20)
    approver = models.ForeignKey(
        USER,
        verbose_name=_("approver"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty: anyone with the role may decide."),
    )
    decision = models.CharField(
        _("decision"), max_length=20, choices=Decision.choices, default=Decision.PENDING
    )
    decided_by = models.ForeignKey(
        USER,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("approval step")
        verbose_name_plural = _("approval steps")
        ordering = ["request", "number"]
        constraints = [
            models.UniqueConstraint(fields=["request", "number"], name="approvalstep_unique")
        ]

    def __str__(self):
        return f"{self.request_id}#{self.number} {self.role}"


class RepairOrder(models.Model):
    """A repair (报修/送修): requested by an employee or opened by send_to_repair."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Reported")
        IN_REPAIR = "in_repair", _("In repair")
        DONE = "done", _("Repaired")
        FAILED = "failed", _("Repair failed")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=30, unique=True)
    asset = models.ForeignKey(
        Asset, verbose_name=_("asset"), on_delete=models.PROTECT, related_name="repairs"
    )
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.REQUESTED, db_index=True
    )
    fault = models.TextField(_("fault description"))
    vendor = models.ForeignKey(
        Supplier,
        verbose_name=_("repair vendor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="repairs",
    )
    previous_status = models.CharField(
        _("status before repair"), max_length=20, choices=Status.choices, blank=True
    )
    reported_by = models.ForeignKey(
        USER,
        verbose_name=_("reported by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reported_at = models.DateTimeField(_("reported at"), default=timezone.now)
    sent_on = models.DateField(_("sent on"), null=True, blank=True)
    returned_on = models.DateField(_("returned on"), null=True, blank=True)
    expected_cost = models.DecimalField(
        _("expected cost"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    actual_cost = models.DecimalField(
        _("actual cost"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    result = models.TextField(_("result"), blank=True)

    class Meta:
        verbose_name = _("repair order")
        verbose_name_plural = _("repair orders")
        ordering = ["-reported_at", "-id"]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("assets:repair_detail", args=[self.pk])


class AssetRequest(models.Model):
    """An employee's request for an asset (申领), approved by the department head, fulfilled
    by a clerk with the ``assign`` transition."""

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        FULFILLED = "fulfilled", _("Fulfilled")
        CANCELLED = "cancelled", _("Cancelled")

    requester = models.ForeignKey(
        Person, verbose_name=_("requester"), on_delete=models.PROTECT, related_name="requests"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="+"
    )
    model = models.ForeignKey(
        AssetModel,
        verbose_name=_("model"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.TextField(_("reason"))
    needed_by = models.DateField(_("needed by"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.SUBMITTED, db_index=True
    )
    created_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    decided_by = models.ForeignKey(
        USER,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_comment = models.TextField(_("comment"), blank=True)
    fulfilled_asset = models.ForeignKey(
        Asset,
        verbose_name=_("assigned asset"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    fulfilled_by = models.ForeignKey(
        USER,
        verbose_name=_("fulfilled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("asset request")
        verbose_name_plural = _("asset requests")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.requester} · {self.category}"
