"""Forms of the register. They parse input only: validation of the whole asset (serial clash,
custom-field schema, model constraints) is done by ``assets.services``, whose
``ValidationError`` dicts are mapped back onto the form with ``add_service_errors``.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .custom_fields import category_schema, form_field_for
from .models import (
    Asset,
    AssetModel,
    Attachment,
    Category,
    CustomField,
    Department,
    Location,
    Person,
    Supplier,
)
from .services import ALLOWED_TYPES
from .services.register import PLACEMENT_FIELDS

CF_PREFIX = "cf_"
ISO_DATE = "%Y-%m-%d"  # what <input type="date"> sends and expects, whatever the locale


class BootstrapMixin:
    """Bootstrap 5 classes on every widget, and ``is-invalid`` on fields with errors."""

    def _style_widgets(self):
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
            if isinstance(widget, forms.DateInput):
                widget.format = ISO_DATE
                widget.input_type = "date"

    def _mark_invalid(self):
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                attrs["aria-invalid"] = "true"

    def full_clean(self):
        super().full_clean()
        if self.is_bound:
            self._mark_invalid()

    def add_service_errors(self, exc: ValidationError, *, default_field: str | None = None):
        """Put a service's errors on the matching fields; the rest become non-field errors
        (or go to ``default_field`` when the service raised a plain list of messages)."""
        if not hasattr(exc, "error_dict"):
            self.add_error(default_field, exc.messages)
        else:
            for key, messages in exc.message_dict.items():
                self.add_error(key if key in self.fields else None, messages)
        self._mark_invalid()


class AssetForm(BootstrapMixin, forms.ModelForm):
    """Create or edit an asset's register fields and its category's custom fields.

    ``category`` is not saved: it only narrows the model select (HTMX dependent select).
    The custom fields (``cf_<key>``) come from the schema of the chosen model's category:
    the posted model when bound, else the instance's or the initial model.
    """

    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.all(),
        required=False,
        help_text=_("Narrows the model list; the category of an asset is its model's."),
    )

    class Meta:
        model = Asset
        fields = [
            "model",
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
        ]
        widgets = {
            "purchase_date": forms.DateInput(format=ISO_DATE, attrs={"type": "date"}),
            "warranty_end": forms.DateInput(format=ISO_DATE, attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "name": _("Leave empty to use the model's name."),
            "warranty_end": _("Leave empty to compute it from the purchase date."),
        }

    def __init__(self, *args, model: AssetModel | None = None, form_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        self.fields["department"].queryset = Department.objects.filter(is_active=True)
        self.fields["location"].queryset = Location.objects.filter(is_active=True)
        self.fields["holder"].queryset = Person.objects.filter(is_active=True)
        self.fields["supplier"].queryset = Supplier.objects.all()
        self._keep_current_choices()
        if self.instance.pk:  # placement changes only through lifecycle actions
            for name in PLACEMENT_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = _(
                    "Changed through lifecycle actions (assign, transfer, return)."
                )

        self.asset_model = self._chosen_model(model)
        category = self._chosen_category()
        if category is not None:
            self.initial.setdefault("category", category.pk)
        wanted = Q(is_active=True)
        if category is not None:
            wanted &= Q(category__path__startswith=category.path)
        if self.instance.pk:  # an inactive model stays selectable on the assets that use it
            wanted |= Q(pk=self.instance.model_id)
        self.fields["model"].queryset = AssetModel.objects.select_related("manufacturer").filter(
            wanted
        )
        if self.asset_model is not None:
            self.initial.setdefault("model", self.asset_model.pk)

        self.schema: list[CustomField] = category_schema(
            self.asset_model.category if self.asset_model else None
        )
        stored = self.instance.custom_fields if self.instance.pk else {}
        for field in self.schema:
            name = CF_PREFIX + field.key
            self.fields[name] = form_field_for(field)
            if field.key in stored:
                self.initial.setdefault(name, stored[field.key])
        self._style_widgets()
        self._dependent_selects(form_url)

    # --- building -----------------------------------------------------------------------

    def _dependent_selects(self, form_url: str) -> None:
        """HTMX: category → model options; model → the custom-field block of ``form_url``."""
        self.fields["category"].widget.attrs.update(
            {
                "hx-get": reverse("assets:model_options"),
                "hx-trigger": "change",
                "hx-target": "#id_model",
                "hx-swap": "innerHTML",
                # The model list changed: let the custom-field block follow the (empty) model.
                "hx-on::after-request": "htmx.trigger('#id_model', 'change')",
            }
        )
        if form_url:
            self.fields["model"].widget.attrs.update(
                {
                    "hx-get": form_url,
                    "hx-trigger": "change",
                    "hx-target": "#custom-fields",
                    "hx-swap": "outerHTML",
                    "hx-include": "#custom-fields",
                }
            )

    def _keep_current_choices(self):
        """An inactive department/location/person already on the asset stays selectable."""
        if not self.instance.pk:
            return
        for name in ("department", "location", "holder"):
            current = getattr(self.instance, f"{name}_id")
            if current:
                field = self.fields[name]
                field.queryset = field.queryset.model.objects.filter(
                    Q(is_active=True) | Q(pk=current)
                )

    def _chosen_model(self, model: AssetModel | None) -> AssetModel | None:
        raw = None
        if self.is_bound:
            raw = self.data.get(self.add_prefix("model"))
        elif model is not None:
            return model
        elif self.initial.get("model"):
            raw = self.initial["model"]
        elif self.instance.pk:
            return self.instance.model
        if raw in (None, ""):
            return None
        if isinstance(raw, AssetModel):
            return raw
        try:
            return AssetModel.objects.select_related("category", "manufacturer").get(pk=raw)
        except (AssetModel.DoesNotExist, ValueError, TypeError):
            return None

    def _chosen_category(self) -> Category | None:
        if self.is_bound:
            raw = self.data.get(self.add_prefix("category"))
            if raw:
                try:
                    return Category.objects.get(pk=raw)
                except (Category.DoesNotExist, ValueError, TypeError):
                    return None
        if self.asset_model is not None:
            return self.asset_model.category
        return None

    # --- results ------------------------------------------------------------------------

    @property
    def custom_field_names(self) -> list[str]:
        return [CF_PREFIX + f.key for f in self.schema]

    def custom_bound_fields(self):
        return [self[name] for name in self.custom_field_names]

    def main_bound_fields(self):
        return [self[name] for name in self.fields if not name.startswith(CF_PREFIX)]

    def unknown_custom_keys(self) -> list[str]:
        """``cf_*`` keys posted that the category does not define (the service rejects them)."""
        if not self.is_bound:
            return []
        known = set(self.custom_field_names)
        return [
            name.removeprefix(CF_PREFIX)
            for name in self.data
            if name.startswith(CF_PREFIX) and name not in known
        ]

    def service_arguments(self) -> dict:
        """The keyword arguments for ``asset_create`` / ``asset_update`` (after is_valid)."""
        data = {name: self.cleaned_data.get(name) for name in self._meta.fields if name != "model"}
        custom = {f.key: self.cleaned_data.get(CF_PREFIX + f.key) for f in self.schema}
        for key in self.unknown_custom_keys():
            custom[key] = self.data.get(CF_PREFIX + key)
        return {"model": self.cleaned_data["model"], "data": data, "custom_values": custom}

    def _post_clean(self):
        # The service validates the asset as a whole (model.full_clean and more); doing it
        # here too would report some errors twice and others against a half-built instance.
        pass


class AttachmentForm(BootstrapMixin, forms.Form):
    """Upload one file to an asset. Type and size are checked by ``attachment_add``."""

    file = forms.FileField(label=_("File"))
    kind = forms.ChoiceField(
        label=_("Kind"), choices=Attachment.Kind.choices, initial=Attachment.Kind.PHOTO
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A hint for the file picker only; the service decides by the bytes.
        self.fields["file"].widget.attrs["accept"] = ",".join(ALLOWED_TYPES)
        self._style_widgets()
