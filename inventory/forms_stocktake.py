"""The stocktake form (create and edit): name, kind, scope pickers, counters, deadline.

Counters are either for the whole scope (``counters``, a multiple select) or for one location
(``area_user`` / ``area_location`` pairs, repeated rows like a document's lines). The form
parses input only; ``inventory.services.stocktakes`` validates and decides.
"""

from __future__ import annotations

from functools import cached_property

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from assets.forms import BootstrapMixin
from assets.models import Category, Department, Location

from .models import ItemCategory, Warehouse
from .models_stocktake import Stocktake
from .services.stocktakes import may_manage

INDENT = "\u00a0\u00a0"
AREA_ROWS = 3  # empty "counter at a location" rows offered


class TreeMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A tree as a multiple select, each node indented under its parent."""

    def label_from_instance(self, obj):
        return f"{INDENT * (obj.depth - 1)}{obj.name}"


class TreeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{INDENT * (obj.depth - 1)}{obj.name}"


class CounterChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        full = obj.get_full_name()
        return f"{full}（{obj.get_username()}）" if full else obj.get_username()


def counter_candidates():
    """Active users who may count: holders of ``inventory.count_stocktake`` through a group
    or directly, and superusers."""
    perm = Permission.objects.filter(
        content_type__app_label="inventory", codename="count_stocktake"
    ).first()
    q = Q(is_superuser=True)
    if perm is not None:
        q |= Q(groups__permissions=perm) | Q(user_permissions=perm)
    ids = get_user_model().objects.filter(q, is_active=True).values("pk")
    return get_user_model().objects.filter(pk__in=ids).order_by("username")


class StocktakeForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Stocktake.Kind.choices)
    deadline = forms.DateField(label=_("Deadline"), required=False, widget=forms.DateInput)
    locations = TreeMultipleChoiceField(
        label=_("Locations"),
        queryset=Location.objects.filter(is_active=True).order_by("path"),
        required=False,
        help_text=_("Each with everything under it. Empty: all locations."),
    )
    departments = TreeMultipleChoiceField(
        label=_("Departments"),
        queryset=Department.objects.filter(is_active=True).order_by("path"),
        required=False,
        help_text=_("Each with its sub-departments. Empty: all departments."),
    )
    categories = TreeMultipleChoiceField(
        label=_("Categories"),
        queryset=Category.objects.filter(is_active=True).order_by("path"),
        required=False,
        help_text=_("Each with its sub-categories. Empty: all categories."),
    )
    warehouses = forms.ModelMultipleChoiceField(
        label=_("Warehouses"),
        queryset=Warehouse.objects.filter(is_active=True),
        required=False,
        help_text=_("Consumable stocktakes: one count sheet per warehouse."),
    )
    item_categories = TreeMultipleChoiceField(
        label=_("Item categories"),
        queryset=ItemCategory.objects.filter(is_active=True).order_by("path"),
        required=False,
        help_text=_("Consumable stocktakes: only these item categories (empty: all items)."),
    )
    counters = CounterChoiceField(
        label=_("Counters (whole scope)"), queryset=get_user_model().objects.none(), required=False
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=5000, widget=forms.Textarea({"rows": 2})
    )

    def __init__(self, *args, user, stocktake: Stocktake | None = None, **kwargs):
        self.stocktake = stocktake
        if stocktake is not None:
            # Also for a bound form: disabled fields (kind; the scope once counting) take
            # their value from ``initial``, never from the submitted data.
            kwargs["initial"] = {
                "name": stocktake.name,
                "kind": stocktake.kind,
                "deadline": stocktake.deadline,
                "note": stocktake.note,
                "locations": list(stocktake.locations.all()),
                "departments": list(stocktake.departments.all()),
                "categories": list(stocktake.categories.all()),
                "warehouses": list(stocktake.warehouses.all()),
                "item_categories": list(stocktake.item_categories.all()),
                "counters": [c.user_id for c in stocktake.counters.all() if c.location_id is None],
            }
        super().__init__(*args, **kwargs)
        kinds = [(k, label) for k, label in Stocktake.Kind.choices if may_manage(user, k)]
        self.fields["kind"].choices = kinds
        if len(kinds) == 1:
            self.fields["kind"].initial = kinds[0][0]
        self.fields["counters"].queryset = counter_candidates()
        if stocktake is not None:
            # The kind never changes; once counting the scope is frozen.
            self.fields["kind"].disabled = True
            if stocktake.status != Stocktake.Status.DRAFT:
                for name in ("locations", "departments", "categories"):
                    self.fields[name].disabled = True
                for name in ("warehouses", "item_categories"):
                    self.fields[name].disabled = True
        self._style_widgets()
        for name in ("locations", "departments", "categories", "warehouses", "item_categories"):
            self.fields[name].widget.attrs["size"] = 6
        self.fields["counters"].widget.attrs["size"] = 6
        self.area_rows = self._area_rows()

    def _area_rows(self) -> list[dict]:
        """The "counter at a location" rows: posted ones, else the stocktake's, plus empties."""
        if self.is_bound:
            users = self.data.getlist("area_user")
            locations = self.data.getlist("area_location")
            rows = [{"user": u, "location": loc} for u, loc in zip(users, locations, strict=False)]
        elif self.stocktake is not None:
            rows = [
                {"user": str(c.user_id), "location": str(c.location_id)}
                for c in self.stocktake.counters.all()
                if c.location_id is not None
            ]
        else:
            rows = []
        rows = [r for r in rows if r["user"] or r["location"]]
        return rows + [{"user": "", "location": ""} for _ in range(AREA_ROWS)]

    @cached_property
    def user_choices(self):
        return [
            (str(u.pk), self.fields["counters"].label_from_instance(u))
            for u in self.fields["counters"].queryset
        ]

    @cached_property
    def location_choices(self):
        return [
            (str(loc.pk), f"{INDENT * (loc.depth - 1)}{loc.name}")
            for loc in self.fields["locations"].queryset
        ]

    def counter_entries(self) -> list[dict]:
        """What the service takes: whole-scope users, then (user, location) pairs."""
        entries = [{"user": u, "location": None} for u in self.cleaned_data.get("counters") or ()]
        for row in self.area_rows:
            if row["user"] and row["location"]:
                entries.append({"user": _int(row["user"]), "location": _int(row["location"])})
        return entries

    def clean(self):
        data = super().clean()
        for row in self.area_rows:
            if bool(row["user"]) != bool(row["location"]):
                raise forms.ValidationError(
                    _("A counter for a location needs both the person and the location.")
                )
            if row["user"] and (_int(row["user"]) is None or _int(row["location"]) is None):
                raise forms.ValidationError(_("Unknown counter location."))
        return data


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
