"""Django admin for asset clerks and administrators (the site is itassets.admin_site).

Reference data (organisation and catalog) is maintained here; the register's own pages are
the main UI for assets. Rules kept here:

- Asset status is read-only (only the lifecycle service writes it); the tag is generated.
  Saving an asset goes through ``services.asset_create`` / ``asset_update`` (tag allocation,
  custom-field validation, history).
- Attachments are uploaded on the asset page (type and size checks in the service); the admin
  lists them read-only and links to the checked download view, never to a storage URL.
- Every changelist loads its relations with ``list_select_related``: the number of queries
  per page does not grow with the rows shown (tested).
- Reference data can be exported as CSV or Excel (itassets.exports).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from itassets.exports import ExportActionsMixin
from itassets.roles import ADMIN, has_role

from . import services
from .admin_lifecycle import TRANSITION_ACTIONS, TransitionActionsMixin
from .custom_fields import category_schema, validate_values
from .labels import render_labels
from .models import (
    Asset,
    AssetModel,
    Attachment,
    Category,
    CustomField,
    Department,
    Location,
    Manufacturer,
    Person,
    Supplier,
    TagSequence,
    UserPreference,
)
from .views.labels import pdf_response

LIST_PER_PAGE = 50
MAX_TREE_EXPORT_ROOTS = 500


class ReadOnlyAdminMixin:
    """Listed and viewable; written only by services (or not at all)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Trees ----------------------------------------------------------------------------------


class TreeNodeAdmin(ExportActionsMixin, TreeAdmin):
    """Department, Location and Category: drag-and-drop tree, moves through the node form."""

    search_fields = ("code", "name", "full_name")
    readonly_fields = ("full_name",)
    ordering = ("path",)
    list_per_page = 100
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A rename or move changes the full name of every node below.
        services.tree_names_refresh(node=obj)

    def export_queryset(self, request, queryset):
        """The selected nodes with their whole subtrees, in tree order."""
        paths = sorted(queryset.values_list("path", flat=True))
        roots: list[str] = []
        for path in paths:
            if not roots or not path.startswith(roots[-1]):
                roots.append(path)
        if not roots or len(roots) > MAX_TREE_EXPORT_ROOTS:
            return queryset.order_by("path")
        q = Q()
        for path in roots:
            q |= Q(path__startswith=path)
        return self.model.objects.filter(q).order_by("path")


@admin.register(Department)
class DepartmentAdmin(TreeNodeAdmin):
    form = movenodeform_factory(Department, exclude=("full_name",))
    list_display = ("name", "code", "head", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("head",)
    autocomplete_fields = ("head",)
    export_fields = (
        "code",
        "name",
        "full_name",
        "head__employee_no",
        "head__name",
        "is_active",
    )


@admin.register(Location)
class LocationAdmin(TreeNodeAdmin):
    form = movenodeform_factory(Location, exclude=("full_name",))
    list_display = ("name", "code", "kind", "is_warehouse", "is_active")
    list_filter = ("kind", "is_warehouse", "is_active")
    export_fields = ("code", "name", "full_name", "kind", "is_warehouse", "is_active")


class CustomFieldInline(admin.TabularInline):
    model = CustomField
    fields = ("position", "key", "label", "field_type", "required", "choices", "help_text")
    ordering = ("position", "id")
    extra = 0


@admin.register(Category)
class CategoryAdmin(TreeNodeAdmin):
    form = movenodeform_factory(Category, exclude=("full_name",))
    inlines = (CustomFieldInline,)
    list_display = (
        "name",
        "code",
        "asset_class",
        "useful_life_months",
        "residual_rate",
        "depreciation_method",
        "is_active",
    )
    list_filter = ("asset_class", "depreciation_method", "is_active")
    export_fields = (
        "code",
        "name",
        "full_name",
        "asset_class",
        "useful_life_months",
        "residual_rate",
        "depreciation_method",
        "is_active",
    )


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ("label", "key", "category", "field_type", "required", "position")
    list_filter = ("field_type", "required")
    list_select_related = ("category",)
    search_fields = ("key", "label", "category__name", "category__full_name")
    autocomplete_fields = ("category",)
    ordering = ("category__path", "position", "id")
    list_per_page = LIST_PER_PAGE


# --- Organisation and catalog ---------------------------------------------------------------


@admin.register(Person)
class PersonAdmin(ExportActionsMixin, admin.ModelAdmin):
    list_display = (
        "employee_no",
        "name",
        "department",
        "title",
        "phone",
        "email",
        "is_active",
        "user",
    )
    list_filter = ("is_active",)
    list_select_related = ("department", "user")
    search_fields = ("=employee_no", "name", "phone", "email", "dingtalk_id", "wecom_id")
    ordering = ("employee_no",)
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    export_fields = (
        "employee_no",
        "name",
        "department__full_name",
        "title",
        "phone",
        "email",
        "dingtalk_id",
        "wecom_id",
        "is_active",
        (_("login account"), lambda p: p.user.get_username() if p.user else ""),
    )

    # Linking a login account needs to see the accounts: administrators only.
    def get_autocomplete_fields(self, request):
        if request.user.has_perm("auth.view_user"):
            return ("department", "user")
        return ("department",)

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.has_perm("auth.view_user") else ("user",)


@admin.register(Manufacturer)
class ManufacturerAdmin(ExportActionsMixin, admin.ModelAdmin):
    list_display = ("name", "website")
    search_fields = ("name",)
    ordering = ("name",)
    list_per_page = LIST_PER_PAGE
    export_fields = ("name", "website")


@admin.register(Supplier)
class SupplierAdmin(ExportActionsMixin, admin.ModelAdmin):
    list_display = ("name", "contact", "phone", "email", "credit_code")
    search_fields = ("name", "contact", "phone", "=credit_code")
    ordering = ("name",)
    list_per_page = LIST_PER_PAGE
    export_fields = ("name", "contact", "phone", "email", "credit_code", "address", "notes")


@admin.register(AssetModel)
class AssetModelAdmin(ExportActionsMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "manufacturer",
        "model_number",
        "category",
        "default_warranty_months",
        "is_active",
    )
    list_filter = ("is_active", "manufacturer", "category")
    list_select_related = ("manufacturer", "category")
    search_fields = ("name", "model_number", "manufacturer__name")
    autocomplete_fields = ("category", "manufacturer")
    ordering = ("manufacturer__name", "name")
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    export_fields = (
        "manufacturer__name",
        "name",
        "model_number",
        "category__full_name",
        "specs",
        "default_warranty_months",
        "is_active",
    )

    def get_queryset(self, request):
        # __str__ names the manufacturer: also for the asset form's autocomplete results.
        # (A select_related here replaces list_select_related, so both are named.)
        return super().get_queryset(request).select_related("manufacturer", "category")


# --- Assets ---------------------------------------------------------------------------------

ASSET_DATA_FIELDS = (
    "name",
    "serial_number",
    "department",
    "holder",
    "location",
    "supplier",
    "order_number",
    "invoice_number",
    "purchase_date",
    "cost",
    "warranty_end",
    "useful_life_months",
    "residual_rate",
    "notes",
)


class AssetAdminForm(forms.ModelForm):
    """Validates what the services validate, so errors show next to their fields."""

    class Meta:
        model = Asset
        fields = ("model", *ASSET_DATA_FIELDS, "custom_fields")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "name" in self.fields:
            self.fields["name"].required = False
            self.fields["name"].help_text = _("Leave empty to use the model's name.")
        if "custom_fields" in self.fields:
            self.fields["custom_fields"].help_text = self._custom_fields_help()

    def _custom_fields_help(self) -> str:
        text = gettext(
            'A JSON object of the category\'s custom fields, e.g. {"cpu": "i7"}; '
            "it is checked against the category of the chosen model."
        )
        category = self.instance.category if self.instance.category_id else None
        schema = category_schema(category)
        if schema:
            keys = "、".join(
                f"{f.key}（{f.label}，{f.get_field_type_display()}"
                f"{'，' + gettext('required') if f.required else ''}）"
                for f in schema
            )
            text += " " + gettext("Fields: %(fields)s") % {"fields": keys}
        return text

    def clean(self):
        cleaned = super().clean()
        model = cleaned.get("model")
        if model is None:
            return cleaned
        raw = cleaned.get("custom_fields") or {}
        if not isinstance(raw, dict):
            self.add_error("custom_fields", _("Enter an object of field keys and values."))
        else:
            try:
                cleaned["custom_fields"] = validate_values(category_schema(model.category), raw)
            except ValidationError as exc:
                self.add_error(
                    "custom_fields", [m for msgs in exc.message_dict.values() for m in msgs]
                )
        serial = (cleaned.get("serial_number") or "").strip()
        if serial:
            clash = Asset.objects.filter(
                manufacturer_id=model.manufacturer_id, serial_number=serial
            ).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error(
                    "serial_number",
                    _("Serial number %(sn)s already exists for this manufacturer.")
                    % {"sn": serial},
                )
        return cleaned


class AttachmentInline(admin.TabularInline):
    """Read-only list; files open through the checked download view (never a storage URL)."""

    model = Attachment
    fields = ("file_link", "kind", "content_type", "size", "uploaded_by", "uploaded_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("asset", "uploaded_by")

    @admin.display(description=_("file"))
    def file_link(self, obj):
        url = reverse("assets:attachment", args=[obj.asset.tag, obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, obj)


@admin.register(Asset)
class AssetAdmin(TransitionActionsMixin, SimpleHistoryAdmin):
    form = AssetAdminForm
    inlines = (AttachmentInline,)
    list_display = (
        "tag",
        "name",
        "status",
        "category",
        "department",
        "holder",
        "location",
        "purchase_date",
        "cost",
        "warranty_end",
    )
    list_display_links = ("tag", "name")
    list_filter = ("status", "category", "department", "purchase_date", "warranty_end")
    list_select_related = ("category", "department", "holder", "location")
    # Tag and serial by prefix (indexed); name and user by substring.
    search_fields = ("^tag", "^serial_number", "name", "holder__name")
    search_help_text = _("Asset tag or serial number (prefix), name or user.")
    autocomplete_fields = ("model", "department", "holder", "location", "supplier")
    readonly_fields = (
        "tag",
        "status",
        "category",
        "manufacturer",
        "created_by",
        "created_at",
        "updated_by",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        # After creation, who holds the asset and where it is change only by transitions.
        extra = ("department", "holder", "location") if obj is not None else ()
        return (*super().get_readonly_fields(request, obj), *extra)

    fieldsets = (
        (None, {"fields": ("tag", "status", "model", "name", "serial_number")}),
        (_("Category"), {"fields": ("category", "manufacturer")}),
        (_("Use"), {"fields": ("department", "holder", "location")}),
        (
            _("Purchase"),
            {
                "fields": (
                    "supplier",
                    "order_number",
                    "invoice_number",
                    "purchase_date",
                    "cost",
                    "warranty_end",
                    "useful_life_months",
                    "residual_rate",
                )
            },
        ),
        (_("Custom fields"), {"fields": ("custom_fields",)}),
        (_("Notes"), {"fields": ("notes",)}),
        (_("Record"), {"fields": ("created_by", "created_at", "updated_by", "updated_at")}),
    )
    ordering = ("-id",)
    list_per_page = LIST_PER_PAGE
    list_max_show_all = 500
    show_full_result_count = False
    # Transitions run through assets.services (admin_lifecycle); status is never edited here.
    actions = ["print_labels", *TRANSITION_ACTIONS]

    def has_delete_permission(self, request, obj=None):
        # Assets leave the register through disposal (lifecycle), not deletion.
        return has_role(request.user, ADMIN) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        """Through the services: tag allocation, validation, history with the actor."""
        data = {f: form.cleaned_data[f] for f in ASSET_DATA_FIELDS if f in form.cleaned_data}
        model = form.cleaned_data["model"]
        custom = form.cleaned_data.get("custom_fields") or {}
        if change:
            saved = services.asset_update(
                actor=request.user, asset=obj, model=model, data=data, custom_values=custom
            )
        else:
            saved = services.asset_create(
                actor=request.user, model=model, data=data, custom_values=custom
            )
        for field in Asset._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    @admin.action(description=_("Print QR labels (A4 sheet)"), permissions=["view"])
    def print_labels(self, request, queryset):
        limit = settings.LABEL_MAX_PER_REQUEST
        count = queryset.count()
        if count > limit:
            self.message_user(
                request,
                gettext("At most %(limit)s labels can be printed at once; %(count)s selected.")
                % {"limit": limit, "count": count},
                messages.ERROR,
            )
            return None
        assets = queryset.select_related("department").order_by("tag")
        pdf = render_labels(assets, fmt="a4-3x8", organisation=settings.ORGANISATION_NAME)
        return pdf_response(pdf, filename=f"labels-{count}.pdf")


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "original_name",
        "asset",
        "kind",
        "content_type",
        "size",
        "uploaded_by",
        "uploaded_at",
    )
    list_filter = ("kind", "content_type")
    list_select_related = ("asset", "uploaded_by")
    search_fields = ("original_name", "^asset__tag", "=sha256")
    fields = (
        "asset",
        "file_link",
        "kind",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
    )
    readonly_fields = fields
    ordering = ("-uploaded_at",)
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False

    @admin.display(description=_("file"))
    def file_link(self, obj):
        url = reverse("assets:attachment", args=[obj.asset.tag, obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, obj)


@admin.register(TagSequence)
class TagSequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: allocation skips tags already taken, so a sequence never needs editing."""

    list_display = ("prefix", "last_value")
    search_fields = ("prefix",)
    ordering = ("prefix",)
    list_per_page = LIST_PER_PAGE

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UserPreference)
class UserPreferenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "key")
    list_select_related = ("user",)
    search_fields = ("key", "user__username")
    ordering = ("user__username", "key")
    list_per_page = LIST_PER_PAGE
