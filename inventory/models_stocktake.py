"""Stocktaking (盘点): sessions that count assets (by scanning their labels) or consumables (by
entering counted quantities per warehouse), then report and settle the differences.

A ``Stocktake`` moves draft → counting → closed (→ applied, for assets). Its scope is any
combination of locations, departments and categories (assets) or warehouses and item categories
(consumables); a scope node always includes its subtree. Starting it *freezes* what is expected:

- assets: one ``StocktakeExpected`` line per asset in scope, with its location, holder,
  department, status and cost at that moment. Assets that enter or leave the scope later do
  not change the list. Scans fill in the result of a line (found, at another location, with
  another holder); lines still pending at closing are missing (盘亏). An asset found that is
  not on the list gets a line of its own with result ``unexpected`` (盘盈); an unknown tag is
  recorded only as a ``StocktakeScan`` (raw code, note, photo).
- consumables: one ``CountSheet`` per warehouse and one ``CountLine`` per item with its book
  quantity and average cost at freeze; counters enter counted quantities; at closing the
  movements posted since the freeze are added to the book quantity and the variance is posted
  as 盘盈/盘亏 documents.

Every scan is stored once (``StocktakeScan``, unique per stocktake and client scan id), so a
retried request counts once; the unique (stocktake, asset) line and a conditional UPDATE of a
pending line make concurrent counters safe. Only ``inventory.services.stocktakes`` (and the
count-sheet service) write these rows. See docs/stocktaking.md.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from assets.models import Asset, Category, Department, Location, Person

from .models import COST, MONEY, QTY, Document, Item, ItemCategory, Warehouse

USER = settings.AUTH_USER_MODEL

# A scanned code longer than this is refused (a label holds a tag or a URL with the tag).
SCAN_CODE_MAX_LENGTH = 200


# How a result is shown: "Found" alone is the lifecycle's 找回 (found after a loss); a scan
# that finds an asset where it belongs is 正常. (Display only: the choices stay as migrated.)
RESULT_LABELS = {"found": pgettext_lazy("stocktake result", "In place")}


def stocktake_upload_to(instance, filename):
    """Photos of scans and self-confirmations, kept in the private default storage."""
    ext = Path(filename).suffix.lower()[:10]
    return f"stocktakes/{instance.stocktake_id}/{uuid.uuid4().hex}{ext}"


class Stocktake(models.Model):
    """A stocktake session (盘点单): its scope, counters, deadline and state."""

    class Kind(models.TextChoices):
        ASSET = "asset", _("Assets")
        CONSUMABLE = "consumable", _("Consumables")

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("stocktake status", "Draft")
        COUNTING = "counting", _("Counting")
        CLOSED = "closed", pgettext_lazy("stocktake status", "Closed")
        APPLIED = "applied", _("Results applied")

    STATUS_BADGE = {
        "draft": "secondary",
        "counting": "primary",
        "closed": "warning",
        "applied": "success",
    }

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ASSET)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    # Scope (assets): an asset is in scope when it matches every non-empty dimension, each
    # node with its subtree. No dimension at all: every asset not disposed of.
    locations = models.ManyToManyField(
        Location, verbose_name=_("locations"), blank=True, related_name="+"
    )
    departments = models.ManyToManyField(
        Department, verbose_name=_("departments"), blank=True, related_name="+"
    )
    categories = models.ManyToManyField(
        Category, verbose_name=_("categories"), blank=True, related_name="+"
    )
    # Scope (consumables): the warehouses counted (one count sheet each) and, optionally,
    # the item categories (with subtrees) counted in them.
    warehouses = models.ManyToManyField(
        Warehouse, verbose_name=_("warehouses"), blank=True, related_name="+"
    )
    item_categories = models.ManyToManyField(
        ItemCategory, verbose_name=_("item categories"), blank=True, related_name="+"
    )
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        USER,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True, editable=False)
    started_by = models.ForeignKey(
        USER,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        USER,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True, editable=False)
    applied_by = models.ForeignKey(
        USER,
        verbose_name=_("applied by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    # Written once when the list is frozen (the number of expected lines), so list pages
    # need no count per row.
    expected_count = models.PositiveIntegerField(_("expected"), default=0, editable=False)

    class Meta:
        verbose_name = _("stocktake")
        verbose_name_plural = _("stocktakes")
        ordering = ["-id"]
        permissions = [
            ("manage_stocktake", _("Can create, start, close and apply stocktakes")),
            ("count_stocktake", _("Can count in assigned stocktakes")),
        ]
        indexes = [
            models.Index(fields=["status", "id"], name="stocktake_status_id"),
            models.Index(fields=["kind", "status", "id"], name="stocktake_kind_status_id"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("inventory:stocktake_detail", args=[self.pk])

    @property
    def status_badge(self) -> str:
        return self.STATUS_BADGE.get(self.status, "secondary")

    @property
    def is_counting(self) -> bool:
        return self.status == self.Status.COUNTING

    @property
    def is_read_only(self) -> bool:
        """Closed and applied stocktakes change no more (apply writes only its own fields)."""
        return self.status in (self.Status.CLOSED, self.Status.APPLIED)


class StocktakeCounter(models.Model):
    """A person assigned to count (盘点人), for the whole scope or for one location subtree."""

    stocktake = models.ForeignKey(
        Stocktake,
        verbose_name=_("stocktake"),
        on_delete=models.CASCADE,
        related_name="counters",
        db_index=False,
    )
    user = models.ForeignKey(
        USER, verbose_name=_("counter"), on_delete=models.CASCADE, related_name="stocktake_counts"
    )
    location = models.ForeignKey(
        Location,
        verbose_name=_("location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the whole scope."),
    )

    class Meta:
        verbose_name = _("stocktake counter")
        verbose_name_plural = _("stocktake counters")
        ordering = ["stocktake_id", "id"]
        indexes = [models.Index(fields=["stocktake", "user"], name="stcounter_st_user")]

    def __str__(self):
        return f"{self.stocktake_id}: {self.user}"


class StocktakeExpected(models.Model):
    """One line of an asset stocktake: an asset expected (frozen at start) and what counting
    found. Lines with result ``unexpected`` are assets found that were not on the list."""

    class Result(models.TextChoices):
        PENDING = "pending", _("Not yet found")
        FOUND = "found", _("Found")  # 正常
        LOCATION_MISMATCH = "location_mismatch", _("Location differs")  # 位置不符
        HOLDER_MISMATCH = "holder_mismatch", _("Holder differs")  # 使用人不符
        MISSING = "missing", _("Missing")  # 盘亏 (set when closing)
        UNEXPECTED = "unexpected", _("Unexpected")  # 盘盈 (not on the frozen list)

    class Method(models.TextChoices):
        SCAN = "scan", _("Scanned")
        SELF = "self", _("Confirmed by holder")
        MANUAL = "manual", _("Entered manually")

    RESULT_BADGE = {
        "pending": "secondary",
        "found": "success",
        "location_mismatch": "warning",
        "holder_mismatch": "info",
        "missing": "danger",
        "unexpected": "primary",
    }

    stocktake = models.ForeignKey(
        Stocktake,
        verbose_name=_("stocktake"),
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
    )
    asset = models.ForeignKey(
        Asset, verbose_name=_("asset"), on_delete=models.PROTECT, related_name="stocktake_lines"
    )
    # Frozen at start (for ``unexpected`` lines: the register's values when found).
    tag = models.CharField(_("asset tag"), max_length=50)
    expected_location = models.ForeignKey(
        Location,
        verbose_name=_("expected location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    expected_holder = models.ForeignKey(
        Person,
        verbose_name=_("expected holder"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stocktake_lines",
    )
    expected_department = models.ForeignKey(
        Department,
        verbose_name=_("expected department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    expected_status = models.CharField(_("status at start"), max_length=20)
    cost = models.DecimalField(_("cost (CNY)"), max_digits=14, decimal_places=2, null=True)
    # Result of counting.
    result = models.CharField(
        _("result"), max_length=20, choices=Result.choices, default=Result.PENDING
    )
    method = models.CharField(_("method"), max_length=10, choices=Method.choices, blank=True)
    found_location = models.ForeignKey(
        Location,
        verbose_name=_("found at"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    observed_holder = models.ForeignKey(
        Person,
        verbose_name=_("observed holder"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    found_at = models.DateTimeField(_("first found at"), null=True, blank=True)
    found_by = models.ForeignKey(
        USER,
        verbose_name=_("found by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Self-confirmation by the holder (我的资产: "I have it"), counts as found (method self).
    confirm_requested_at = models.DateTimeField(
        _("confirmation requested at"), null=True, blank=True
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirm_photo = models.FileField(
        _("confirmation photo"), upload_to=stocktake_upload_to, blank=True, max_length=300
    )
    confirm_note = models.CharField(_("confirmation note"), max_length=500, blank=True)
    # Applying results (after closing): what was done for this line.
    applied_action = models.CharField(_("applied action"), max_length=30, blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    apply_note = models.CharField(_("apply note"), max_length=500, blank=True)
    # The loss report (report_lost approval) applying a missing line opened (C2).
    applied_approval = models.ForeignKey(
        "assets.ApprovalRequest",
        verbose_name=_("approval request"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("stocktake line")
        verbose_name_plural = _("stocktake lines")
        ordering = ["stocktake_id", "tag"]
        constraints = [
            models.UniqueConstraint(fields=["stocktake", "asset"], name="stline_unique_asset"),
            # The scan path looks a code up here first; tags are unique in the register.
            models.UniqueConstraint(fields=["stocktake", "tag"], name="stline_unique_tag"),
        ]
        indexes = [
            # Progress per location (GROUP BY expected_location, result) and the list of
            # not-yet-found assets of one location.
            models.Index(
                fields=["stocktake", "expected_location", "result", "tag"],
                name="stline_st_loc_result",
            ),
            # The report by result, and pending self-confirmations.
            models.Index(fields=["stocktake", "result", "tag"], name="stline_st_result"),
            models.Index(fields=["asset", "stocktake"], name="stline_asset_st"),
        ]

    def __str__(self):
        return f"{self.tag} ({self.get_result_display()})"

    @property
    def result_badge(self) -> str:
        return self.RESULT_BADGE.get(self.result, "secondary")

    @property
    def result_label(self) -> str:
        return str(RESULT_LABELS.get(self.result) or self.get_result_display())

    @property
    def is_found(self) -> bool:
        return self.result in (
            self.Result.FOUND,
            self.Result.LOCATION_MISMATCH,
            self.Result.HOLDER_MISMATCH,
        )


class StocktakeScan(models.Model):
    """One scan as sent by a counter's device (an append-only log). ``scan_id`` is generated
    by the client: a retried request finds its scan and gets the same answer."""

    class Result(models.TextChoices):
        FOUND = "found", _("Found")  # 正常
        LOCATION_MISMATCH = "location_mismatch", _("Location differs")  # 位置不符
        HOLDER_MISMATCH = "holder_mismatch", _("Holder differs")  # 使用人不符
        DUPLICATE = "duplicate", _("Already scanned")  # 重复
        UNEXPECTED = "unexpected", _("Unexpected")  # 盘盈 (known asset off the list)
        UNKNOWN = "unknown", _("Unknown code")  # 盘盈 (not in the register)
        COUNTED = "counted", _("Counted")  # consumables: one more of an item

    RESULT_BADGE = {
        "found": "success",
        "location_mismatch": "warning",
        "holder_mismatch": "info",
        "duplicate": "secondary",
        "unexpected": "primary",
        "unknown": "danger",
        "counted": "success",
    }

    stocktake = models.ForeignKey(
        Stocktake,
        verbose_name=_("stocktake"),
        on_delete=models.CASCADE,
        related_name="scans",
        db_index=False,
    )
    scan_id = models.UUIDField(_("scan id"))
    raw_code = models.CharField(_("scanned code"), max_length=SCAN_CODE_MAX_LENGTH)
    counter = models.ForeignKey(
        USER, verbose_name=_("counter"), on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        Location,
        verbose_name=_("location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    result = models.CharField(_("result"), max_length=20, choices=Result.choices)
    asset = models.ForeignKey(
        Asset,
        verbose_name=_("asset"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    line = models.ForeignKey(
        StocktakeExpected,
        verbose_name=_("stocktake line"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scans",
    )
    # Consumable stocktakes: the item whose barcode was scanned (its count line + 1).
    item = models.ForeignKey(
        Item,
        verbose_name=_("item"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    photo = models.FileField(_("photo"), upload_to=stocktake_upload_to, blank=True, max_length=300)
    created_at = models.DateTimeField(_("scanned at"), default=timezone.now)

    class Meta:
        verbose_name = _("stocktake scan")
        verbose_name_plural = _("stocktake scans")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["stocktake", "scan_id"], name="stscan_unique_id"),
        ]
        indexes = [
            # A counter's recent scans; unexpected and unknown codes for the report.
            models.Index(fields=["stocktake", "counter", "id"], name="stscan_st_counter"),
            models.Index(fields=["stocktake", "result", "raw_code"], name="stscan_st_result"),
        ]

    def __str__(self):
        return f"{self.raw_code} ({self.get_result_display()})"

    @property
    def result_badge(self) -> str:
        return self.RESULT_BADGE.get(self.result, "secondary")

    @property
    def result_label(self) -> str:
        return str(RESULT_LABELS.get(self.result) or self.get_result_display())


class CountSheet(models.Model):
    """The count of one warehouse in a consumable stocktake (盘点表). ``frozen_ledger_id``
    is the last ledger entry at freeze: movements since are the entries after it (excluding
    the sheet's own adjustment documents)."""

    class Status(models.TextChoices):
        COUNTING = "counting", _("Counting")
        POSTED = "posted", pgettext_lazy("count sheet", "Posted")

    stocktake = models.ForeignKey(
        Stocktake,
        verbose_name=_("stocktake"),
        on_delete=models.CASCADE,
        related_name="sheets",
        db_index=False,
    )
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.COUNTING
    )
    frozen_at = models.DateTimeField(_("frozen at"), default=timezone.now)
    frozen_ledger_id = models.BigIntegerField(_("last ledger entry at freeze"), default=0)
    gain_document = models.ForeignKey(
        Document,
        verbose_name=_("stocktake gain document"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    loss_document = models.ForeignKey(
        Document,
        verbose_name=_("stocktake loss document"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    posted_by = models.ForeignKey(
        USER,
        verbose_name=_("posted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("count sheet")
        verbose_name_plural = _("count sheets")
        ordering = ["stocktake_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["stocktake", "warehouse"], name="sheet_unique_wh"),
        ]

    def __str__(self):
        return f"{self.stocktake} · {self.warehouse}"


class CountLine(models.Model):
    """One item of a count sheet: book quantity and average cost at freeze, the counted
    quantity, and (at closing) movements since the freeze and the variance
    ``counted − (book + movements)`` with its value."""

    sheet = models.ForeignKey(
        CountSheet,
        verbose_name=_("count sheet"),
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
    )
    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="+"
    )
    book_quantity = models.DecimalField(_("book quantity at freeze"), **QTY)
    unit_cost = models.DecimalField(_("average cost at freeze"), **COST, default=0)
    counted_quantity = models.DecimalField(_("counted"), **QTY, null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    counted_by = models.ForeignKey(
        USER,
        verbose_name=_("counted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # The last ledger entry of this (item, warehouse) when the count was entered: the
    # movements that count are those after the freeze up to here (C2, count sheets).
    counted_ledger_id = models.BigIntegerField(_("last ledger entry when counted"), null=True)
    movements = models.DecimalField(_("movements since freeze"), **QTY, null=True, blank=True)
    variance = models.DecimalField(_("variance"), **QTY, null=True, blank=True)
    variance_value = models.DecimalField(_("variance value"), **MONEY, null=True, blank=True)

    class Meta:
        verbose_name = _("count line")
        verbose_name_plural = _("count lines")
        ordering = ["sheet_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["sheet", "item"], name="countline_unique_item"),
            models.CheckConstraint(
                condition=Q(counted_quantity__isnull=True) | Q(counted_quantity__gte=0),
                name="countline_counted_nonneg",
                violation_error_message=_("The counted quantity cannot be negative."),
            ),
        ]

    def __str__(self):
        return f"{self.item} @ {self.sheet_id}"
