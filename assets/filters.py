"""The asset list's filter form (django-filter). Parsing and validation live here; applying
the cleaned values is ``assets.selectors.asset_filter`` so the data scope and the index-aware
query stay in the selectors."""

from __future__ import annotations

from functools import partial

import django_filters
from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .lifecycle import Status
from .models import Asset
from .selectors import TREE_KINDS, FilterTrees, asset_filter, asset_filter_trees

# Query-string keys that are not filters but belong to the list's state.
STATE_KEYS = ("sort", "per_page")
_INPUT = {"class": "form-control form-control-sm"}
_SELECT = {"class": "form-select form-select-sm"}


# The filter widgets render in Python instead of through the form renderer's templates: a
# template per <option> cost milliseconds for a few dozen tree nodes, and a location tree
# has thousands. Same HTML as Django's widgets, minus the template machinery.
class Select(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        chosen = "" if value is None else str(value)
        options = "".join(
            f'<option value="{escape(v)}"{" selected" if str(v) == chosen else ""}>'
            f"{escape(label)}</option>"
            for v, label in self.choices
        )
        return mark_safe(f"<select{flatatt(final)}>{options}</select>")  # noqa: S308 (escaped)


class _InputRender:
    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, {**(attrs or {}), "type": self.input_type})
        final["name"] = name
        formatted = self.format_value(value)
        if formatted is not None:
            final["value"] = formatted
        return format_html("<input{}>", flatatt(final))


class TextInput(_InputRender, forms.TextInput):
    pass


class DateInput(_InputRender, forms.DateInput):
    pass


class NumberInput(_InputRender, forms.NumberInput):
    pass


class AssetFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        widget=TextInput(
            attrs={
                "type": "search",
                "class": "form-control",
                "placeholder": _("Tag, serial number, name or user"),
                "autocomplete": "off",
            }
        ),
    )
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"), choices=Status.choices, widget=forms.CheckboxSelectMultiple
    )
    category = django_filters.TypedChoiceFilter(
        label=_("Category"), coerce=int, empty_value=None, widget=Select(attrs=_SELECT)
    )
    department = django_filters.TypedChoiceFilter(
        label=_("Department"), coerce=int, empty_value=None, widget=Select(attrs=_SELECT)
    )
    location = django_filters.TypedChoiceFilter(
        label=_("Location"), coerce=int, empty_value=None, widget=Select(attrs=_SELECT)
    )
    holder = django_filters.CharFilter(
        label=_("User (employee number)"),
        widget=TextInput(attrs={**_INPUT, "placeholder": _("Employee number")}),
    )
    purchase_from = django_filters.DateFilter(
        label=_("Purchased from"),
        widget=DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    purchase_to = django_filters.DateFilter(
        label=_("Purchased to"),
        widget=DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    warranty_days = django_filters.NumberFilter(
        label=_("Warranty ends within (days)"),
        min_value=0,
        max_value=3650,
        widget=NumberInput(attrs={**_INPUT, "min": 0, "max": 3650, "step": 1}),
    )

    class Meta:
        model = Asset
        fields: list[str] = []

    def __init__(self, data=None, *args, trees: FilterTrees | None = None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.trees = trees if trees is not None else asset_filter_trees()
        for kind in TREE_KINDS:
            # A callable: the trees load only if a form renders or a tree value is validated.
            self.form.fields[kind].choices = partial(self._tree_choices, kind)

    def _tree_choices(self, kind: str) -> list[tuple]:
        cache = self.__dict__.setdefault("_choices", {})
        if kind not in cache:
            cache[kind] = [("", str(_("All"))), *self.trees.choices(kind)]
        return cache[kind]

    @classmethod
    def _cached_form_class(cls, build):
        if "_form_class" not in cls.__dict__:
            cls._form_class = build()
        return cls._form_class

    def get_form_class(self):
        # django-filter builds a new form class (and a field per filter) on every request; the
        # class never changes here, only the tree choices, which __init__ sets on the form.
        return self._cached_form_class(super().get_form_class)

    @property
    def cleaned_filters(self) -> dict:
        """The valid filter values (an invalid field is shown with its error and ignored)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.form.cleaned_data.items() if v not in (None, "", [])}

    def filter_queryset(self, queryset):
        return asset_filter(queryset, filters=self.cleaned_filters, trees=self.trees)
