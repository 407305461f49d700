"""The organisation (departments, locations, people) and the asset register.

Trees use django-treebeard's materialised path (MP_Node): "incl. children" filters are one
indexed ``path LIKE 'prefix%'`` and need no recursive query on MySQL or SQLite.
"""

import uuid
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords
from treebeard.mp_tree import MP_Node

from ..lifecycle import STATUS_BADGE, TRANSITION_PERMISSIONS, Status

PATH_SEPARATOR = "/"


class TreeNode(MP_Node):
    """A node with a unique code and a denormalised full name (``总部/研发中心/测试部``)."""

    code = models.CharField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    full_name = models.CharField(_("full name"), max_length=500, editable=False, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)

    steplen = 4
    node_order_by = []

    class Meta:
        abstract = True
        ordering = ["path"]

    def __str__(self):
        return self.full_name or self.name

    def compute_full_name(self) -> str:
        if self.depth <= 1 or not self.path:
            return self.name
        parent_path = self.path[: -self.steplen]
        parent = type(self).objects.only("full_name").get(path=parent_path)
        return f"{parent.full_name}{PATH_SEPARATOR}{self.name}"

    def save(self, *args, **kwargs):
        if self.path:
            self.full_name = self.compute_full_name()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = set(kwargs["update_fields"]) | {"full_name"}
        super().save(*args, **kwargs)

    def subtree_q(self, prefix: str = "") -> models.Q:
        """A Q matching this node and every descendant, on a relation ``prefix``."""
        return models.Q(**{f"{prefix}path__startswith": self.path})


class Department(TreeNode):
    """A department of the organisation (部门), e.g. 总部 › 研发中心 › 测试部."""

    head = models.ForeignKey(
        "Person",
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )

    class Meta(TreeNode.Meta):
        verbose_name = _("department")
        verbose_name_plural = _("departments")


class Location(TreeNode):
    """A place (园区 › 楼栋 › 楼层 › 房间); warehouses are locations with ``is_warehouse``."""

    class Kind(models.TextChoices):
        CAMPUS = "campus", _("Campus")
        BUILDING = "building", _("Building")
        FLOOR = "floor", _("Floor")
        ROOM = "room", _("Room")
        OTHER = "other", _("Other")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ROOM)
    is_warehouse = models.BooleanField(_("warehouse"), default=False, db_index=True)

    class Meta(TreeNode.Meta):
        verbose_name = _("location")
        verbose_name_plural = _("locations")


class Person(models.Model):
    """An employee (人员): holds assets; may have a login user."""

    employee_no = models.CharField(_("employee number"), max_length=50, unique=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100, db_index=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="people",
    )
    title = models.CharField(_("job title"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    email = models.EmailField(_("email"), blank=True)
    dingtalk_id = models.CharField(_("DingTalk user ID"), max_length=100, blank=True)
    wecom_id = models.CharField(_("WeCom user ID"), max_length=100, blank=True)
    is_active = models.BooleanField(_("employed"), default=True, db_index=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["employee_no"]

    def __str__(self):
        return f"{self.name}（{self.employee_no}）"

    def get_absolute_url(self):
        return reverse("admin:assets_person_change", args=[self.pk])


# --- Catalog ----------------------------------------------------------------------------------


class AssetClass(models.TextChoices):
    FIXED = "fixed", _("Fixed asset")
    LOW_VALUE = "low_value", _("Low-value durable")


class DepreciationMethod(models.TextChoices):
    STRAIGHT_LINE = "straight_line", _("Straight-line")
    DOUBLE_DECLINING = "double_declining", _("Double-declining balance")
    SUM_OF_YEARS = "sum_of_years", _("Sum-of-the-years' digits")


class Category(TreeNode):
    """An asset category (资产分类), e.g. 计算机设备 › 笔记本电脑, with accounting defaults.

    Its custom fields (``CustomField``) are inherited by every descendant category.
    """

    asset_class = models.CharField(
        _("asset class"), max_length=20, choices=AssetClass.choices, default=AssetClass.FIXED
    )
    useful_life_months = models.PositiveIntegerField(_("useful life (months)"), default=60)
    residual_rate = models.DecimalField(
        _("residual rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("5.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    depreciation_method = models.CharField(
        _("depreciation method"),
        max_length=20,
        choices=DepreciationMethod.choices,
        default=DepreciationMethod.STRAIGHT_LINE,
    )

    class Meta(TreeNode.Meta):
        verbose_name = _("category")
        verbose_name_plural = _("categories")


class CustomField(models.Model):
    """One typed field of a category's custom-field schema (inherited by child categories)."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        INTEGER = "integer", _("Integer")
        DECIMAL = "decimal", _("Decimal")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        BOOLEAN = "boolean", _("Yes/No")

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="fields"
    )
    key = models.SlugField(
        _("key"), max_length=50, help_text=_("Stable identifier stored with each asset.")
    )
    label = models.CharField(_("label"), max_length=100)
    field_type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    required = models.BooleanField(_("required"), default=False)
    choices = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_("For choice fields: a list of options.")
    )
    help_text = models.CharField(_("help text"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["category", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "key"], name="customfield_unique_key")
        ]

    def __str__(self):
        return f"{self.label} ({self.get_field_type_display()})"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.field_type == self.Type.CHOICE and not self.choices:
            raise ValidationError({"choices": _("A choice field needs at least one option.")})
        if self.choices and not all(isinstance(c, str) and c for c in self.choices):
            raise ValidationError({"choices": _("Options must be non-empty texts.")})


class Manufacturer(models.Model):
    """A manufacturer or brand (品牌/厂商)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    website = models.CharField(_("website"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("manufacturer")
        verbose_name_plural = _("manufacturers")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Supplier(models.Model):
    """A supplier (供应商); the unified social credit code is optional but unique."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    contact = models.CharField(_("contact person"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    email = models.EmailField(_("email"), blank=True)
    credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        null=True,
        blank=True,
        unique=True,
        validators=[
            RegexValidator(
                r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
                _("Enter a valid 18-character unified social credit code."),
            )
        ],
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        ordering = ["name"]

    def __str__(self):
        return self.name


class AssetModel(models.Model):
    """A model / SKU (型号), e.g. ThinkPad X1 Carbon Gen 12."""

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="models"
    )
    manufacturer = models.ForeignKey(
        Manufacturer,
        verbose_name=_("manufacturer"),
        on_delete=models.PROTECT,
        related_name="models",
    )
    name = models.CharField(_("name"), max_length=200)
    model_number = models.CharField(_("model number"), max_length=100)
    specs = models.TextField(_("specifications"), blank=True)
    image = models.ImageField(_("image"), upload_to="models/", blank=True)
    default_warranty_months = models.PositiveIntegerField(
        _("default warranty (months)"), default=36
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("asset model")
        verbose_name_plural = _("asset models")
        ordering = ["manufacturer__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "model_number"], name="assetmodel_unique_number"
            )
        ]

    def __str__(self):
        return f"{self.manufacturer} {self.name}"


# --- Assets -----------------------------------------------------------------------------------


class TagSequence(models.Model):
    """The next number for each tag prefix (e.g. ``IT-2026-``); see services.asset_tags_allocate."""

    prefix = models.CharField(max_length=100, unique=True)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("tag sequence")
        verbose_name_plural = _("tag sequences")
        ordering = ["prefix"]

    def __str__(self):
        return f"{self.prefix}{self.last_value}"


class Asset(models.Model):
    """One physical asset in the register (资产), identified by its tag (资产编号)."""

    tag = models.CharField(_("asset tag"), max_length=50, unique=True)
    model = models.ForeignKey(
        AssetModel, verbose_name=_("model"), on_delete=models.PROTECT, related_name="assets"
    )
    # Denormalised from the model so filters and the serial-number constraint need no join.
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="assets"
    )
    manufacturer = models.ForeignKey(
        Manufacturer,
        verbose_name=_("manufacturer"),
        on_delete=models.PROTECT,
        related_name="assets",
    )
    name = models.CharField(_("name"), max_length=200)
    serial_number = models.CharField(_("serial number"), max_length=100, null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.IN_STOCK, editable=False
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("using department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assets",
    )
    holder = models.ForeignKey(
        Person,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assets",
    )
    location = models.ForeignKey(
        Location,
        verbose_name=_("location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assets",
    )
    supplier = models.ForeignKey(
        Supplier,
        verbose_name=_("supplier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assets",
    )
    order_number = models.CharField(_("purchase order number"), max_length=100, blank=True)
    invoice_number = models.CharField(_("invoice number"), max_length=100, blank=True)
    purchase_date = models.DateField(_("purchase date"), null=True, blank=True)
    cost = models.DecimalField(
        _("cost (CNY)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    warranty_end = models.DateField(_("warranty end date"), null=True, blank=True)
    useful_life_months = models.PositiveIntegerField(
        _("useful life (months)"),
        null=True,
        blank=True,
        help_text=_("Leave empty to use the category default."),
    )
    residual_rate = models.DecimalField(
        _("residual rate (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Leave empty to use the category default."),
    )
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Written by lifecycle transitions only (editable=False): loan due / expected return
    # date of the current holder, and the day the asset was disposed of (stops depreciation).
    due_date = models.DateField(_("due date"), null=True, blank=True, editable=False)
    disposed_on = models.DateField(_("disposed on"), null=True, blank=True, editable=False)
    # Audit columns, shown but never filtered or sorted by: no index and no database
    # constraint (each cost the import ~0.3 s of MariaDB CPU per 90,000 rows, issue 8).
    # Deleting a user still nulls them (on_delete runs in Django); a page that meets an
    # id without a user shows none (select_related joins LEFT OUTER).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_constraint=False,
        db_index=False,
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(
        excluded_fields=["updated_at", "updated_by"], related_name="+", cascade_delete_history=True
    )

    class Meta:
        verbose_name = _("asset")
        verbose_name_plural = _("assets")
        ordering = ["-id"]
        permissions = TRANSITION_PERMISSIONS
        constraints = [
            # MySQL and SQLite allow many NULLs in a unique index: an empty serial is NULL.
            models.UniqueConstraint(
                fields=["manufacturer", "serial_number"], name="asset_unique_serial"
            )
        ]
        # One index per filter and sort the list offers, each ending in id so that
        # "ORDER BY col, id LIMIT n" and keyset/deferred-join pagination read the index only.
        indexes = [
            models.Index(fields=["status", "id"], name="asset_status_id"),
            models.Index(fields=["category", "id"], name="asset_category_id"),
            models.Index(fields=["department", "status", "id"], name="asset_dept_status_id"),
            # Sorting by department: (department, status, id) cannot give "department, id" order.
            models.Index(fields=["department", "id"], name="asset_department_id"),
            models.Index(fields=["location", "id"], name="asset_location_id"),
            models.Index(fields=["holder", "id"], name="asset_holder_id"),
            models.Index(fields=["purchase_date", "id"], name="asset_purchase_id"),
            models.Index(fields=["warranty_end", "id"], name="asset_warranty_id"),
            models.Index(fields=["cost", "id"], name="asset_cost_id"),
            models.Index(fields=["name", "id"], name="asset_name_id"),
            models.Index(fields=["serial_number"], name="asset_serial"),
            models.Index(fields=["updated_at", "id"], name="asset_updated_id"),
            models.Index(fields=["status", "due_date"], name="asset_status_due"),
        ]

    def __str__(self):
        return f"{self.tag} {self.name}"

    def get_absolute_url(self):
        return reverse("assets:detail", args=[self.tag])

    @property
    def status_badge(self) -> str:
        return STATUS_BADGE.get(self.status, "secondary")

    @property
    def effective_useful_life_months(self) -> int:
        return self.useful_life_months or self.category.useful_life_months

    @property
    def effective_residual_rate(self) -> Decimal:
        if self.residual_rate is not None:
            return self.residual_rate
        return self.category.residual_rate


def attachment_upload_to(instance, filename):
    ext = Path(filename).suffix.lower()[:10]
    return f"assets/{instance.asset_id}/{uuid.uuid4().hex}{ext}"


class Attachment(models.Model):
    """A photo, invoice or warranty document of an asset, kept in the private bucket."""

    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        INVOICE = "invoice", _("Invoice")
        WARRANTY = "warranty", _("Warranty document")
        OTHER = "other", _("Other")

    asset = models.ForeignKey(
        Asset, verbose_name=_("asset"), on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PHOTO)
    file = models.FileField(_("file"), upload_to=attachment_upload_to, max_length=300)
    thumbnail = models.FileField(_("thumbnail"), upload_to="thumbs/", blank=True, max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    repair_order = models.ForeignKey(
        "RepairOrder",
        verbose_name=_("repair order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["asset", "-uploaded_at"]

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("assets:attachment", args=[self.asset.tag, self.pk])

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class UserPreference(models.Model):
    """Per-user UI preferences (e.g. the asset list's visible columns)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    key = models.CharField(max_length=100)
    value = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")
        ordering = ["user", "key"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="userpref_unique")]

    def __str__(self):
        return f"{self.user}: {self.key}"
