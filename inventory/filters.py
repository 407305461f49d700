"""Filter forms of the inventory list pages (items, documents, low stock).

They parse the query string into the ``filters`` mappings the selectors take; invalid values
are dropped (a bookmarked link to a deleted warehouse shows the unfiltered list, not an
error). Applying the filters, and the data scope, is the selectors' job.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from assets.forms import ISO_DATE

from . import selectors
from .models import Document, DocumentType, ItemCategory

_SELECT = {"class": "form-select form-select-sm"}
_INPUT = {"class": "form-control form-control-sm"}

ACTIVE_CHOICES = [("1", _("Active")), ("0", _("Inactive")), ("all", _("All"))]


def category_choices() -> list[tuple]:
    """The item category tree, indented (one query)."""
    rows = ItemCategory.objects.only("id", "name", "depth").order_by("path")
    return [("", _("All")), *[(c.pk, "\u00a0\u00a0" * (c.depth - 1) + c.name) for c in rows]]


def warehouse_choices(warehouses) -> list[tuple]:
    return [("", _("All")), *[(w.pk, str(w)) for w in warehouses]]


class _FilterForm(forms.Form):
    """Drops invalid values instead of showing errors: ``filters`` is what was valid."""

    def __init__(self, data=None, **kwargs):
        super().__init__(data if data is not None else {}, **kwargs)

    @property
    def filters(self) -> dict:
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        result = {}
        for name in self.fields:
            if name in self.errors:
                continue
            value = cleaned.get(name)
            if value in (None, "", False):
                continue
            result[name] = getattr(value, "pk", value)
        return result


class ItemFilterForm(_FilterForm):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                **_INPUT,
                "type": "search",
                "placeholder": _("Code, name or barcode"),
                "autocomplete": "off",
            }
        ),
    )
    category = forms.TypedChoiceField(
        label=_("Category"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(_SELECT),
    )
    warehouse = forms.TypedChoiceField(
        label=_("Warehouse"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(_SELECT),
    )
    below_safety = forms.BooleanField(
        label=_("Below safety stock"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input", "value": "1"}),
    )
    active = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=ACTIVE_CHOICES,
        widget=forms.Select(_SELECT),
    )

    def __init__(self, data=None, *, warehouses, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["category"].choices = category_choices()
        self.fields["warehouse"].choices = warehouse_choices(warehouses)

    @property
    def filters(self) -> dict:
        result = super().filters
        result.setdefault("active", "1")  # the selector's default, made explicit
        if result.pop("below_safety", False):
            result["below_safety"] = "1"
        return result


class DocumentFilterForm(_FilterForm):
    q = forms.CharField(
        label=_("Number"),
        required=False,
        max_length=50,
        widget=forms.TextInput(
            attrs={
                **_INPUT,
                "type": "search",
                "placeholder": _("Document or invoice number"),
                "autocomplete": "off",
            }
        ),
    )
    type = forms.ChoiceField(
        label=_("Type"),
        required=False,
        choices=[("", _("All")), *DocumentType.choices],
        widget=forms.Select(_SELECT),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), *Document.Status.choices],
        widget=forms.Select(_SELECT),
    )
    warehouse = forms.TypedChoiceField(
        label=_("Warehouse"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(_SELECT),
    )
    date_from = forms.DateField(
        label=_("Date from"),
        required=False,
        input_formats=[ISO_DATE],
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format=ISO_DATE),
    )
    date_to = forms.DateField(
        label=_("Date to"),
        required=False,
        input_formats=[ISO_DATE],
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format=ISO_DATE),
    )

    def __init__(self, data=None, *, warehouses, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["warehouse"].choices = warehouse_choices(warehouses)


class LowStockFilterForm(_FilterForm):
    warehouse = forms.TypedChoiceField(
        label=_("Warehouse"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(_SELECT),
    )
    category = forms.TypedChoiceField(
        label=_("Category"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(_SELECT),
    )

    def __init__(self, data=None, *, warehouses, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["warehouse"].choices = warehouse_choices(warehouses)
        self.fields["category"].choices = category_choices()


def active_warehouses():
    """Every active warehouse (the filters' choices), loaded once per request."""
    return list(selectors.warehouse_list())
