"""Consumables and spare parts (物料), warehouses, stock balances and the stock ledger.

Stock changes only through numbered documents (单据): a draft is created, then *posted* by
``inventory.services.document_post``, which locks the stock rows it touches, updates them and
appends one ``LedgerEntry`` per movement. Posted documents are never edited or deleted; a
mistake is undone by a reversing document (``document_reverse``). The guards below (``save``
and ``delete`` of documents, lines and ledger entries) refuse writes that bypass the services;
the database's check constraints keep quantities and values non-negative as a last guard.

Quantities are ``Decimal(14, 3)``; each item says how many decimal places it is counted in
(``Item.quantity_decimals``, 0 for 个/盒/箱, e.g. 1 for cable by the metre). Money is moving
average cost per (item, warehouse): ``average_cost`` 4 places, values 2 places (CNY).
See docs/decisions.md ("Inventory: ...").
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from assets.models import Department, Location, Person, Supplier, TreeNode

USER = settings.AUTH_USER_MODEL
QTY = {"max_digits": 14, "decimal_places": 3}
COST = {"max_digits": 14, "decimal_places": 4}
MONEY = {"max_digits": 16, "decimal_places": 2}
ZERO = Decimal("0")


def format_quantity(value: Decimal | None) -> str:
    """``Decimal("8.000")`` → ``"8"``, ``Decimal("2.500")`` → ``"2.5"`` (no exponent)."""
    if value is None:
        return ""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


# --- Catalog ----------------------------------------------------------------------------------


class ItemCategory(TreeNode):
    """A category of consumables (物料分类), e.g. 耗材 › 硒鼓墨盒. Its own tree, not the asset
    categories: those carry depreciation defaults and custom fields that consumables lack."""

    class Meta(TreeNode.Meta):
        verbose_name = _("item category")
        verbose_name_plural = _("item categories")


class Item(models.Model):
    """A stock-keeping unit (物料): toner, a cable, a mouse, a disk, a memory module."""

    code = models.CharField(_("item code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    spec = models.CharField(_("specification"), max_length=200, blank=True)
    unit = models.CharField(
        _("unit"), max_length=20, default="个", help_text=_("e.g. 个, 盒, 根, 箱, 米")
    )
    quantity_decimals = models.PositiveSmallIntegerField(
        _("decimal places of quantities"),
        default=0,
        validators=[MaxValueValidator(3)],
        help_text=_("0 for items counted in whole units; up to 3, e.g. 1 for cable by the metre."),
    )
    category = models.ForeignKey(
        ItemCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="items",
    )
    # An empty barcode is NULL: MySQL allows many NULLs in a unique index.
    barcode = models.CharField(_("barcode"), max_length=64, null=True, blank=True, unique=True)
    safety_stock = models.DecimalField(
        _("safety stock"),
        **QTY,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text=_("A warehouse holding less than this is listed as low on stock."),
    )
    max_stock = models.DecimalField(
        _("maximum stock"),
        **QTY,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text=_("Reorders fill up to this quantity (0: up to the safety stock)."),
    )
    default_supplier = models.ForeignKey(
        Supplier,
        verbose_name=_("default supplier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    image = models.ImageField(_("image"), upload_to="inventory/items/", blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(safety_stock__gte=0) & Q(max_stock__gte=0),
                name="item_stock_limits_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(quantity_decimals__lte=3), name="item_quantity_decimals_max3"
            ),
        ]
        indexes = [
            models.Index(fields=["is_active", "code"], name="item_active_code"),
            models.Index(fields=["category", "code"], name="item_category_code"),
            models.Index(fields=["name", "id"], name="item_name_id"),
        ]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    def get_absolute_url(self):
        return reverse("inventory:item_detail", args=[self.pk])

    def clean(self):
        self.barcode = (self.barcode or "").strip() or None
        if self.max_stock and self.max_stock < self.safety_stock:
            raise ValidationError(
                {"max_stock": _("The maximum stock cannot be below the safety stock.")}
            )

    @property
    def reorder_level(self) -> Decimal:
        """What a reorder fills up to: the maximum stock, else the safety stock."""
        return self.max_stock if self.max_stock > self.safety_stock else self.safety_stock

    def quantity_step(self) -> Decimal:
        return Decimal(1).scaleb(-self.quantity_decimals)


# --- Places -----------------------------------------------------------------------------------


class WarehouseManager(models.Manager):
    """Warehouses are named by their location: always loaded with it (choices, filters)."""

    def get_queryset(self):
        return super().get_queryset().select_related("location")


class Warehouse(models.Model):
    """A location flagged ``is_warehouse`` that keeps stock; its keepers (仓库管理员) may post
    documents for it."""

    location = models.OneToOneField(
        Location,
        verbose_name=_("location"),
        on_delete=models.PROTECT,
        related_name="warehouse",
        limit_choices_to={"is_warehouse": True},
    )
    keepers = models.ManyToManyField(
        USER, verbose_name=_("keepers"), blank=True, related_name="kept_warehouses"
    )
    is_active = models.BooleanField(_("active"), default=True, db_index=True)

    objects = WarehouseManager()

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["location__path"]

    def __str__(self):
        return str(self.location)

    @property
    def name(self) -> str:
        return self.location.name

    def clean(self):
        if self.location_id and not self.location.is_warehouse:
            raise ValidationError(
                {"location": _("Only locations marked as warehouses can keep stock.")}
            )


class Stock(models.Model):
    """The balance of one item in one warehouse. Written only by ``document_post``.

    (Foreign keys without an index of their own here and below are covered by a composite
    index or unique constraint that starts with them.)
    """

    item = models.ForeignKey(
        Item,
        verbose_name=_("item"),
        on_delete=models.PROTECT,
        related_name="stocks",
        db_index=False,
    )
    warehouse = models.ForeignKey(
        Warehouse,
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="stocks",
        db_index=False,
    )
    quantity = models.DecimalField(_("on hand"), **QTY, default=ZERO)
    average_cost = models.DecimalField(_("average cost"), **COST, default=ZERO)
    value = models.DecimalField(_("stock value"), **MONEY, default=ZERO)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("stock")
        verbose_name_plural = _("stock")
        # Ids, not codes: a default ordering across relations would join (and, in a locking
        # read, lock) the item and warehouse rows too.
        ordering = ["item_id", "warehouse_id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "warehouse"], name="stock_unique_item_wh"),
            # The second guard behind the service's check: never below zero.
            models.CheckConstraint(
                condition=Q(quantity__gte=0),
                name="stock_quantity_nonneg",
                violation_error_message=_("Stock cannot go below zero."),
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="stock_value_nonneg"),
            models.CheckConstraint(condition=Q(average_cost__gte=0), name="stock_avg_nonneg"),
        ]
        indexes = [models.Index(fields=["warehouse", "item"], name="stock_wh_item")]

    def __str__(self):
        return f"{self.item} @ {self.warehouse}: {format_quantity(self.quantity)}"

    @property
    def below_safety(self) -> bool:
        return self.quantity < self.item.safety_stock


# --- Requisitions -----------------------------------------------------------------------------


class Requisition(models.Model):
    """An employee's request for consumables (领用申请), for themselves or their department:
    submitted → approved / rejected (department head) → partly / fully issued (the keeper
    posts issue documents) or cancelled."""

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        PARTLY_ISSUED = "partly_issued", _("Partly issued")
        FULLY_ISSUED = "fully_issued", _("Fully issued")
        CANCELLED = "cancelled", _("Cancelled")

    requester = models.ForeignKey(
        Person, verbose_name=_("requester"), on_delete=models.PROTECT, related_name="requisitions"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requisitions",
    )
    for_department = models.BooleanField(
        _("for the department"),
        default=False,
        help_text=_("For the department's shared use rather than the requester's own."),
    )
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=State.choices,
        default=State.SUBMITTED,
        editable=False,
    )
    reason = models.TextField(_("reason"))
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
    comment = models.TextField(_("comment"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("requisition")
        verbose_name_plural = _("requisitions")
        ordering = ["-created_at", "-id"]
        permissions = [("fulfil_requisition", _("Can issue items for requisitions"))]
        indexes = [
            models.Index(fields=["state", "created_at"], name="req_state_created"),
            models.Index(fields=["requester", "created_at"], name="req_requester_created"),
            models.Index(fields=["department", "state", "created_at"], name="req_dept_state"),
        ]

    def __str__(self):
        return gettext("Requisition #%(id)s by %(person)s") % {
            "id": self.pk,
            "person": self.requester.name,
        }

    def get_absolute_url(self):
        return reverse("inventory:requisition_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        """Keepers may still issue against it."""
        return self.state in (self.State.APPROVED, self.State.PARTLY_ISSUED)


class RequisitionLine(models.Model):
    """One item of a requisition: how many were asked for, how many issued so far."""

    requisition = models.ForeignKey(
        Requisition, verbose_name=_("requisition"), on_delete=models.CASCADE, related_name="lines"
    )
    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.DecimalField(_("quantity"), **QTY)
    issued_quantity = models.DecimalField(_("issued"), **QTY, default=ZERO, editable=False)

    class Meta:
        verbose_name = _("requisition line")
        verbose_name_plural = _("requisition lines")
        ordering = ["requisition", "id"]
        constraints = [
            models.UniqueConstraint(fields=["requisition", "item"], name="reqline_unique_item"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0),
                name="reqline_quantity_pos",
                violation_error_message=_("The quantity must be greater than zero."),
            ),
            models.CheckConstraint(
                condition=Q(issued_quantity__gte=0) & Q(issued_quantity__lte=models.F("quantity")),
                name="reqline_issued_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.item} × {format_quantity(self.quantity)}"

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.issued_quantity


# --- Documents --------------------------------------------------------------------------------


class DocumentType(models.TextChoices):
    RECEIPT = "receipt", pgettext_lazy("stock document type", "Receipt")  # 入库单
    ISSUE = "issue", _("Issue")  # 出库单 / 领用
    TRANSFER = "transfer", _("Transfer")  # 调拨单
    RETURN = "return", pgettext_lazy("stock document type", "Return")  # 退库单
    STOCKTAKE_GAIN = "stocktake_gain", _("Stocktake gain")  # 盘盈
    STOCKTAKE_LOSS = "stocktake_loss", _("Stocktake loss")  # 盘亏
    ADJUSTMENT = "adjustment", _("Adjustment")  # 调整


# Number prefix of each type: RK-20261121-0001.
DOCUMENT_PREFIX = {
    DocumentType.RECEIPT: "RK",
    DocumentType.ISSUE: "CK",
    DocumentType.TRANSFER: "DB",
    DocumentType.RETURN: "TK",
    DocumentType.STOCKTAKE_GAIN: "PY",
    DocumentType.STOCKTAKE_LOSS: "PK",
    DocumentType.ADJUSTMENT: "TZ",
}


class Direction(models.IntegerChoices):
    """Whether a line's warehouse receives (+1) or gives (−1) the quantity."""

    IN = 1, _("In")
    OUT = -1, _("Out")


# The direction of every line of a type (None: chosen per line, adjustments). A transfer
# line gives from ``warehouse`` and receives into ``to_warehouse``.
TYPE_DIRECTION = {
    DocumentType.RECEIPT: Direction.IN,
    DocumentType.ISSUE: Direction.OUT,
    DocumentType.TRANSFER: Direction.OUT,
    DocumentType.RETURN: Direction.IN,
    DocumentType.STOCKTAKE_GAIN: Direction.IN,
    DocumentType.STOCKTAKE_LOSS: Direction.OUT,
    DocumentType.ADJUSTMENT: None,
}

STATUS_BADGE = {"draft": "secondary", "posted": "success", "reversed": "warning"}


class PostedDocumentError(ValidationError):
    """A write to a posted (or reversed) document, its lines or the ledger."""


def _refuse_posted():
    raise PostedDocumentError(
        gettext("Posted documents cannot be changed or deleted; reverse them instead."),
        code="posted",
    )


class Document(models.Model):
    """A stock document (单据): receipt, issue, transfer, return, stocktake gain or loss,
    adjustment. Draft → posted (→ reversed by a new reversing document).

    The number (``RK-20261121-0001``) is given when the document is posted, from a per-type,
    per-day sequence, so posted documents are numbered without gaps; drafts have none.
    ``status``, ``number`` and the posting fields are written only by the services.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        POSTED = "posted", _("Posted")
        REVERSED = "reversed", _("Reversed")

    Type = DocumentType

    type = models.CharField(_("type"), max_length=20, choices=DocumentType.choices)
    number = models.CharField(
        _("document number"), max_length=30, unique=True, null=True, blank=True, editable=False
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    date = models.DateField(_("date"), default=timezone.localdate)
    operator = models.ForeignKey(
        USER,
        verbose_name=_("operator"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    warehouse = models.ForeignKey(
        Warehouse,
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="documents",
        help_text=_("For a transfer: the warehouse the items leave."),
        db_index=False,
    )
    to_warehouse = models.ForeignKey(
        Warehouse,
        verbose_name=_("to warehouse"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incoming_documents",
        db_index=False,
    )
    supplier = models.ForeignKey(
        Supplier,
        verbose_name=_("supplier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    invoice_no = models.CharField(_("invoice number"), max_length=100, blank=True)
    person = models.ForeignKey(
        Person,
        verbose_name=pgettext_lazy("inventory document", "person"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_documents",
        help_text=_("Issue: who receives the items; return: who brings them back."),
        db_index=False,
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_documents",
        db_index=False,
    )
    reason = models.TextField(_("reason"), blank=True)
    requisition = models.ForeignKey(
        Requisition,
        verbose_name=_("requisition"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="documents",
    )
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        editable=False,
    )
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text=_("Sent by scanners and forms so a replayed request finds its document."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True, editable=False)
    posted_by = models.ForeignKey(
        USER,
        verbose_name=_("posted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("stock document")
        verbose_name_plural = _("stock documents")
        ordering = ["-id"]
        permissions = [
            ("post_document", _("Can post stock documents")),
            ("reverse_document", _("Can reverse posted stock documents")),
            ("adjust_stock", _("Can make manual stock adjustments")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(number__isnull=False, posted_at__isnull=False),
                name="document_posted_has_number",
            ),
        ]
        # The document list: newest first, filtered by type, status, warehouse, date, person.
        indexes = [
            models.Index(fields=["type", "status", "id"], name="doc_type_status_id"),
            models.Index(fields=["status", "id"], name="doc_status_id"),
            models.Index(fields=["warehouse", "id"], name="doc_wh_id"),
            models.Index(fields=["to_warehouse", "id"], name="doc_to_wh_id"),
            models.Index(fields=["date", "id"], name="doc_date_id"),
            models.Index(fields=["person", "id"], name="doc_person_id"),
            models.Index(fields=["department", "id"], name="doc_department_id"),
            models.Index(fields=["supplier", "id"], name="doc_supplier_id"),
            models.Index(fields=["posted_at"], name="doc_posted_at"),
        ]

    def __str__(self):
        if self.number:
            return self.number
        return gettext("Draft %(type)s #%(id)s") % {
            "type": self.get_type_display(),
            "id": self.pk or "—",
        }

    # Guards: only drafts are written through the ORM; posting uses queryset updates.

    def save(self, *args, **kwargs):
        if self.status != self.Status.DRAFT:
            _refuse_posted()
        if self._state.adding or self.pk is None:
            return super().save(*args, **kwargs)
        with transaction.atomic(using=kwargs.get("using")):
            if self._stored_status() not in (None, self.Status.DRAFT):
                _refuse_posted()
            return super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("inventory:document_detail", args=[self.pk])

    def delete(self, *args, **kwargs):
        with transaction.atomic(using=kwargs.get("using")):
            if self._stored_status() not in (None, self.Status.DRAFT):
                _refuse_posted()
            return super().delete(*args, **kwargs)

    @property
    def prefix(self) -> str:
        return DOCUMENT_PREFIX[self.type]

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def status_badge(self) -> str:
        return STATUS_BADGE.get(self.status, "secondary")

    def _stored_status(self) -> str | None:
        return (
            type(self)
            .objects.select_for_update()
            .filter(pk=self.pk)
            .values_list("status", flat=True)
            .first()
        )


class DocumentLine(models.Model):
    """One line of a document: item, warehouse, quantity (always positive; ``direction``
    says in or out), unit cost and amount. Outgoing lines get their cost when posted (the
    moving average at that moment)."""

    document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.CASCADE, related_name="lines"
    )
    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="document_lines"
    )
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT, related_name="+"
    )
    to_warehouse = models.ForeignKey(
        Warehouse,
        verbose_name=_("to warehouse"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    direction = models.SmallIntegerField(_("direction"), choices=Direction.choices)
    quantity = models.DecimalField(_("quantity"), **QTY)
    unit_cost = models.DecimalField(_("unit cost"), **COST, null=True, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY, null=True, blank=True)

    class Meta:
        verbose_name = _("document line")
        verbose_name_plural = _("document lines")
        ordering = ["document", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0),
                name="docline_quantity_pos",
                violation_error_message=_("The quantity must be greater than zero."),
            ),
            models.CheckConstraint(
                condition=Q(unit_cost__isnull=True) | Q(unit_cost__gte=0),
                name="docline_unit_cost_nonneg",
                violation_error_message=_("The amount cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="docline_amount_nonneg",
                violation_error_message=_("The amount cannot be negative."),
            ),
            models.CheckConstraint(condition=Q(direction__in=[1, -1]), name="docline_direction"),
        ]
        indexes = [models.Index(fields=["item", "document"], name="docline_item_doc")]

    def __str__(self):
        return f"{self.item} × {format_quantity(self.quantity)}"

    def save(self, *args, **kwargs):
        with transaction.atomic(using=kwargs.get("using")):
            if self._document_status() not in (None, Document.Status.DRAFT):
                _refuse_posted()
            return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        with transaction.atomic(using=kwargs.get("using")):
            if self._document_status() not in (None, Document.Status.DRAFT):
                _refuse_posted()
            return super().delete(*args, **kwargs)

    def _document_status(self) -> str | None:
        return (
            Document.objects.select_for_update()
            .filter(pk=self.document_id)
            .values_list("status", flat=True)
            .first()
        )


class LedgerEntry(models.Model):
    """One stock movement (台账): the signed quantity, the balance after it, the value change
    and the value after it, for one (item, warehouse). Append-only.

    Entries of one (item, warehouse) are written while its stock row is locked, so their ids
    increase in posting order and the running balance is the order of ``id``.
    """

    item = models.ForeignKey(
        Item,
        verbose_name=_("item"),
        on_delete=models.PROTECT,
        related_name="ledger",
        db_index=False,
    )
    warehouse = models.ForeignKey(
        Warehouse,
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        related_name="ledger",
        db_index=False,
    )
    document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.PROTECT, related_name="ledger"
    )
    line = models.ForeignKey(
        DocumentLine, verbose_name=_("line"), on_delete=models.PROTECT, related_name="ledger"
    )
    quantity = models.DecimalField(_("quantity"), **QTY)
    balance_after = models.DecimalField(_("balance"), **QTY)
    unit_cost = models.DecimalField(_("unit cost"), **COST)
    value_change = models.DecimalField(_("value change"), **MONEY)
    value_after = models.DecimalField(_("value"), **MONEY)
    posted_at = models.DateTimeField(_("posted at"))

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        # The item page's ledger (台账): keyset pages on id, for one item or one
        # (item, warehouse); the document's entries.
        indexes = [
            models.Index(fields=["item", "warehouse", "id"], name="ledger_item_wh_id"),
            models.Index(fields=["item", "id"], name="ledger_item_id"),
            models.Index(fields=["warehouse", "id"], name="ledger_wh_id"),
        ]

    def __str__(self):
        return f"{self.document_id} {self.item_id}@{self.warehouse_id} {self.quantity:+}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            _refuse_posted()
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_posted()

    @property
    def is_in(self) -> bool:
        return self.quantity > 0


# Queryset deletes bypass Model.delete but send pre_delete for every object: the same guards.


@receiver(pre_delete, sender=Document)
def _document_pre_delete(sender, instance, **kwargs):
    status = Document.objects.filter(pk=instance.pk).values_list("status", flat=True).first()
    if status not in (None, Document.Status.DRAFT):
        _refuse_posted()


@receiver(pre_delete, sender=DocumentLine)
def _line_pre_delete(sender, instance, **kwargs):
    status = (
        Document.objects.filter(pk=instance.document_id).values_list("status", flat=True).first()
    )
    if status not in (None, Document.Status.DRAFT):
        _refuse_posted()


@receiver(pre_delete, sender=LedgerEntry)
def _ledger_pre_delete(sender, instance, **kwargs):
    _refuse_posted()


# Stocktaking (盘点) lives in its own module; imported here so Django registers its models.
from .models_stocktake import (  # noqa: E402, F401
    CountLine,
    CountSheet,
    Stocktake,
    StocktakeCounter,
    StocktakeExpected,
    StocktakeScan,
)
