"""Custom fields: a category's schema turned into form fields and validated values.

A schema is the list of ``CustomField`` rows of a category and its ancestors (inherited).
Values are stored in ``Asset.custom_fields`` as JSON: text/choice as str, integer as int,
decimal as a str (exact), date as ISO str, boolean as bool.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import Category, CustomField


def category_schema(category: Category | None) -> list[CustomField]:
    """The fields of ``category`` and all its ancestors, ancestors first."""
    if category is None:
        return []
    paths = [
        category.path[:i] for i in range(category.steplen, len(category.path) + 1, category.steplen)
    ]
    fields = CustomField.objects.filter(category__path__in=paths).select_related("category")
    return sorted(fields, key=lambda f: (f.category.depth, f.position, f.id))


def form_field_for(field: CustomField) -> forms.Field:
    common = {"label": field.label, "required": field.required, "help_text": field.help_text}
    match field.field_type:
        case CustomField.Type.INTEGER:
            return forms.IntegerField(**common)
        case CustomField.Type.DECIMAL:
            return forms.DecimalField(max_digits=20, decimal_places=6, **common)
        case CustomField.Type.DATE:
            return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        case CustomField.Type.CHOICE:
            choices = [("", "---------")] + [(c, c) for c in field.choices]
            return forms.ChoiceField(choices=choices, **common)
        case CustomField.Type.BOOLEAN:
            common["required"] = False
            return forms.BooleanField(**common)
        case _:
            return forms.CharField(max_length=500, **common)


def to_json(field: CustomField, value):
    if value in (None, ""):
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def validate_values(schema: list[CustomField], raw: dict) -> dict:
    """Validate ``raw`` (key → value) against the schema and return the JSON to store.

    Raises ``ValidationError`` with one message per bad key (``{"key": [msg]}``), including
    keys that the category does not define.
    """
    by_key = {f.key: f for f in schema}
    errors: dict[str, list[str]] = {}
    for key in raw:
        if key not in by_key:
            errors.setdefault(key, []).append(
                _("“%(key)s” is not a field of this category.") % {"key": key}
            )
    cleaned = {}
    for key, field in by_key.items():
        value = raw.get(key)
        if isinstance(value, str):
            value = value.strip()
        try:
            python = form_field_for(field).clean(value)
        except ValidationError as exc:
            errors.setdefault(key, []).extend(f"{field.label}: {m}" for m in exc.messages)
            continue
        if field.field_type == CustomField.Type.BOOLEAN:
            cleaned[key] = bool(python)
        elif (stored := to_json(field, python)) is not None:
            cleaned[key] = stored
    if errors:
        raise ValidationError(errors)
    return cleaned


def display_values(schema: list[CustomField], values: dict) -> list[tuple[str, object]]:
    """(label, value) pairs for the detail page, in schema order."""
    out = []
    for field in schema:
        value = values.get(field.key)
        if field.field_type == CustomField.Type.BOOLEAN:
            value = _("Yes") if value else _("No")
        out.append((field.label, "" if value is None else value))
    return out
