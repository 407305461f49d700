"""Django admin of the inventory app (for administrators; clerks and auditors read).

- Items, item categories (a tree) and warehouses are reference data: edited here, exported
  as CSV or Excel (``itassets.exports``).
- Stock balances and the ledger are read-only: only posting changes them.
- Documents: drafts are created and edited here through the services (the lines formset is
  checked with ``services.document_validate``, saving calls ``document_create`` /
  ``document_update``); the "Post" action calls ``document_post``. A posted document is
  read-only and cannot be deleted; it is undone by a reversing document.
- Requisitions are read-only here; they move through their own pages and services.
- Every changelist loads its relations with ``list_select_related``; the ledger's paginator
  never counts more than ``LedgerPaginator.LIMIT`` rows, so it stays fast at millions.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from treebeard.forms import movenodeform_factory

from assets.admin import ReadOnlyAdminMixin, TreeNodeAdmin
from itassets.exports import ExportActionsMixin

from . import services
from .models import (
    Document,
    DocumentLine,
    Item,
    ItemCategory,
    LedgerEntry,
    Requisition,
    RequisitionLine,
    Stock,
    Stocktake,
    StocktakeScan,
    Warehouse,
    format_quantity,
)

LIST_PER_PAGE = 50


@admin.register(ItemCategory)
class ItemCategoryAdmin(TreeNodeAdmin):
    form = movenodeform_factory(ItemCategory, exclude=("full_name",))
    list_display = ("name", "code", "is_active")
    list_filter = ("is_active",)
    export_fields = ("code", "name", "full_name", "is_active")


class StockInline(admin.TabularInline):
    """An item's balance per warehouse (read-only)."""

    model = Stock
    fields = ("warehouse", "quantity", "average_cost", "value", "updated_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("warehouse__location")


@admin.register(Item)
class ItemAdmin(ExportActionsMixin, admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "spec",
        "unit",
        "category",
        "barcode",
        "safety_stock",
        "max_stock",
        "is_active",
    )
    list_display_links = ("code", "name")
    list_filter = ("is_active", "category")
    list_select_related = ("category",)
    search_fields = ("^code", "^barcode", "name", "spec")
    search_help_text = _("Item code or barcode (prefix), name or specification.")
    autocomplete_fields = ("category", "default_supplier")
    inlines = (StockInline,)
    ordering = ("code",)
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    export_fields = (
        "code",
        "name",
        "spec",
        "unit",
        "quantity_decimals",
        "category__full_name",
        "barcode",
        "safety_stock",
        "max_stock",
        "default_supplier__name",
        "is_active",
    )


class WarehouseForm(forms.ModelForm):
    class Meta:
        model = Warehouse
        fields = ("location", "keepers", "is_active")


@admin.register(Warehouse)
class WarehouseAdmin(ExportActionsMixin, admin.ModelAdmin):
    form = WarehouseForm
    list_display = ("__str__", "location_code", "keeper_count", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("location",)
    search_fields = ("location__name", "location__full_name", "location__code")
    autocomplete_fields = ("location",)
    filter_horizontal = ("keepers",)
    ordering = ("location__path",)
    list_per_page = LIST_PER_PAGE
    export_fields = (
        "location__code",
        "location__full_name",
        (_("keepers"), lambda w: "、".join(u.get_username() for u in w.keepers.all())),
        "is_active",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_keepers=Count("keepers"))

    def export_queryset(self, request, queryset):
        return queryset.prefetch_related("keepers")

    @admin.display(description=_("code"), ordering="location__code")
    def location_code(self, obj):
        return obj.location.code

    @admin.display(description=_("keepers"), ordering="_keepers")
    def keeper_count(self, obj):
        return obj._keepers


@admin.register(Stock)
class StockAdmin(ReadOnlyAdminMixin, ExportActionsMixin, admin.ModelAdmin):
    list_display = ("item", "warehouse", "on_hand", "average_cost", "value", "updated_at")
    list_filter = ("warehouse",)
    list_select_related = ("item", "warehouse__location")
    search_fields = ("^item__code", "^item__barcode", "item__name")
    ordering = ("item__code", "warehouse__location__path")
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    export_fields = (
        "item__code",
        "item__name",
        "item__unit",
        "warehouse__location__full_name",
        "quantity",
        "average_cost",
        "value",
    )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("on hand"), ordering="quantity")
    def on_hand(self, obj):
        return f"{format_quantity(obj.quantity)} {obj.item.unit}"


# --- Documents --------------------------------------------------------------------------------

HEADER_FIELDS = (
    "type",
    "date",
    "warehouse",
    "to_warehouse",
    "supplier",
    "invoice_no",
    "person",
    "department",
    "requisition",
    "reason",
)
LINE_FIELDS = ("item", "direction", "quantity", "unit_cost", "amount")


class DocumentLineForm(forms.ModelForm):
    class Meta:
        model = DocumentLine
        fields = LINE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only adjustments choose a direction; every other type has its own.
        self.fields["direction"].required = False
        self.fields["direction"].help_text = _("Adjustments only.")


class DocumentLineFormSet(forms.BaseInlineFormSet):
    """Checks the lines together with the header through ``services.document_validate``."""

    request = None

    def clean(self):
        super().clean()
        if any(self.errors) or self.request is None:
            return
        document = self.instance
        if not document.type or not document.warehouse_id:
            return  # the header form reports what is missing
        lines, forms_used = [], []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            lines.append({name: data.get(name) for name in LINE_FIELDS})
            forms_used.append(form)
        header = {name: getattr(document, name) for name in HEADER_FIELDS if name != "type"}
        try:
            services.document_validate(
                actor=self.request.user, type=document.type, lines=lines, **header
            )
        except services.DocumentInvalid as exc:
            for index, errors in exc.line_errors.items():
                form = forms_used[index]
                for field, messages_ in errors.items():
                    target = field if field in form.fields else None
                    form.add_error(target, messages_)
            # Header errors (and "add at least one line") above the lines.
            general = [
                message
                for key, messages_ in exc.message_dict.items()
                if key != "lines" or not exc.line_errors
                for message in messages_
            ]
            if general:
                raise ValidationError(general) from None
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from None


class DocumentLineInline(admin.TabularInline):
    model = DocumentLine
    form = DocumentLineForm
    formset = DocumentLineFormSet
    fields = LINE_FIELDS
    autocomplete_fields = ("item",)
    extra = 1

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.request = request
        return formset

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("item")

    def _draft(self, obj):
        return obj is None or obj.is_draft

    def has_add_permission(self, request, obj=None):
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._draft(obj) and super().has_delete_permission(request, obj)


class PostedLineInline(admin.TabularInline):
    """The lines of a posted document with the costs posting gave them."""

    model = DocumentLine
    fields = ("item", "warehouse", "to_warehouse", "direction", "quantity", "unit_cost", "amount")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("item", "warehouse__location", "to_warehouse__location")
        )


@admin.register(Document)
class DocumentAdmin(ExportActionsMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "type",
        "status",
        "date",
        "warehouse",
        "to_warehouse",
        "person",
        "operator",
        "posted_at",
    )
    list_filter = ("status", "type", "warehouse", "date")
    list_select_related = (
        "warehouse__location",
        "to_warehouse__location",
        "person",
        "operator",
    )
    search_fields = ("^number", "=invoice_no", "person__name")
    search_help_text = _("Document number (prefix), invoice number or person.")
    autocomplete_fields = ("supplier", "person", "department", "warehouse", "to_warehouse")
    raw_id_fields = ("requisition",)
    date_hierarchy = "date"
    ordering = ("-id",)
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    actions = ["post_documents", "export_csv", "export_xlsx"]
    export_fields = (
        "number",
        "type",
        "status",
        "date",
        "warehouse__location__full_name",
        "to_warehouse__location__full_name",
        "supplier__name",
        "invoice_no",
        "person__name",
        "department__full_name",
        "reason",
        "posted_at",
    )
    export_select_related = (
        "warehouse__location",
        "to_warehouse__location",
        "supplier",
        "person",
        "department",
    )

    def get_fields(self, request, obj=None):
        if obj is None or obj.is_draft:
            return HEADER_FIELDS
        return (
            "number",
            "status",
            *HEADER_FIELDS,
            "reverses",
            "operator",
            "created_at",
            "posted_by",
            "posted_at",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_draft:
            return self.get_fields(request, obj)
        return ("type",) if obj is not None else ()

    def get_inlines(self, request, obj):
        if obj is not None and not obj.is_draft:
            return (PostedLineInline,)
        return (DocumentLineInline,)

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.is_draft:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.is_draft:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        for document in queryset.filter(status=Document.Status.DRAFT):
            services.document_delete(document=document, actor=request.user)

    def delete_model(self, request, obj):
        services.document_delete(document=obj, actor=request.user)

    def save_model(self, request, obj, form, change):
        """Saved with its lines in ``save_related`` (one service call)."""

    def save_related(self, request, form, formsets, change):
        header = {name: form.cleaned_data.get(name) for name in HEADER_FIELDS if name != "type"}
        if change:
            header = {k: v for k, v in header.items() if k in form.cleaned_data}
        lines = []
        for formset in formsets:
            # The service replaces the lines; the change message lists none one by one.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            for line_form in formset.forms:
                data = getattr(line_form, "cleaned_data", None) or {}
                if data and not data.get("DELETE"):
                    lines.append({name: data.get(name) for name in LINE_FIELDS})
        if change:
            document = services.document_update(
                document=form.instance, actor=request.user, lines=lines, **header
            )
        else:
            document = services.document_create(
                actor=request.user, type=form.cleaned_data["type"], lines=lines, **header
            )
        form.instance.pk = document.pk
        form.instance._state.adding = False

    @admin.action(description=_("Post the selected drafts"), permissions=["post"])
    def post_documents(self, request, queryset):
        posted = 0
        for document in queryset.order_by("id"):
            try:
                result = services.document_post(document=document, actor=request.user)
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{document}: {text}", messages.ERROR)
                continue
            if result.posted:
                posted += 1
            else:
                self.message_user(request, result.message, messages.WARNING)
        if posted:
            self.message_user(
                request,
                gettext("%(n)s document(s) posted.") % {"n": posted},
                messages.SUCCESS,
            )

    def has_post_permission(self, request):
        return request.user.has_perm(services.PERM_POST)


class LedgerPaginator(Paginator):
    """Counts at most LIMIT rows: ``COUNT(*)`` over millions of ledger rows is slow, and
    nobody pages that far in the admin (filter by warehouse or search an item instead)."""

    LIMIT = 10_000

    @cached_property
    def count(self):
        return self.object_list[: self.LIMIT].count()


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, ExportActionsMixin, admin.ModelAdmin):
    """The stock ledger, read-only."""

    list_display = (
        "id",
        "posted_at",
        "document",
        "item",
        "warehouse",
        "quantity",
        "balance_after",
        "unit_cost",
        "value_change",
        "value_after",
    )
    list_filter = ("warehouse",)
    list_select_related = ("document", "item", "warehouse__location")
    search_fields = ("=item__code", "=item__barcode", "^document__number")
    search_help_text = _("Item code or barcode (exact) or document number (prefix).")
    ordering = ("-id",)
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    paginator = LedgerPaginator
    export_fields = (
        "id",
        "posted_at",
        "document__number",
        "item__code",
        "item__name",
        "warehouse__location__full_name",
        "quantity",
        "balance_after",
        "unit_cost",
        "value_change",
        "value_after",
    )

    def has_delete_permission(self, request, obj=None):
        return False


class RequisitionLineInline(admin.TabularInline):
    model = RequisitionLine
    fields = ("item", "quantity", "issued_quantity")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("item")


@admin.register(Requisition)
class RequisitionAdmin(ReadOnlyAdminMixin, ExportActionsMixin, admin.ModelAdmin):
    list_display = ("id", "requester", "department", "for_department", "state", "created_at")
    list_filter = ("state", "for_department")
    list_select_related = ("requester", "department")
    search_fields = ("=id", "requester__name", "=requester__employee_no")
    inlines = (RequisitionLineInline,)
    ordering = ("-created_at", "-id")
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    export_fields = (
        "id",
        "requester__employee_no",
        "requester__name",
        "department__full_name",
        "for_department",
        "state",
        "reason",
        "created_at",
        "decided_by",
        "decided_at",
        "comment",
    )

    def has_delete_permission(self, request, obj=None):
        return False


# --- Stocktakes (read-only: they move through their own pages and services) -------------------


@admin.register(Stocktake)
class StocktakeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "name", "kind", "status", "expected_count", "deadline", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("=id", "name")
    ordering = ("-id",)
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False
    filter_horizontal = ()
    readonly_fields = ("locations", "departments", "categories", "warehouses", "item_categories")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StocktakeScan)
class StocktakeScanAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "stocktake", "raw_code", "result", "location", "counter", "created_at")
    list_filter = ("result",)
    list_select_related = ("stocktake", "location", "counter")
    search_fields = ("=raw_code", "=stocktake__id")
    raw_id_fields = ("stocktake", "asset", "line", "item", "location", "counter")
    ordering = ("-id",)
    list_per_page = LIST_PER_PAGE
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False
