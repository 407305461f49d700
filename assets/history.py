"""The change history of an asset, read from django-simple-history (``Asset.history``).

Every save of an asset (services, admin, imports) writes a historical record: who, when, and
the full row. The timeline compares consecutive records (``diff_against``) to list the changed
fields with their values before and after. Reads are bounded: one query for the records
(with ``history_user``), one per related model that appears in the changes (names of
departments, people, ... resolved in bulk), never one per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .custom_fields import category_schema
from .models import Asset, AssetModel, CustomField

DEFAULT_LIMIT = 50
# Tracked but not worth a line in the timeline (identity, bookkeeping).
SKIP_FIELDS = {"id", "tag", "created_at", "created_by"}
# Not editable, so ``diff_against`` leaves them out; compared here directly.
EXTRA_FIELDS = ["status"]
EMPTY = "—"
# Change reasons the services set for their own bookkeeping; not shown.
SERVICE_REASONS = {"create", "update"}

HISTORY_TYPES = {
    "+": gettext_lazy("Created"),
    "~": gettext_lazy("Changed"),
    "-": gettext_lazy("Deleted"),
}


@dataclass(frozen=True)
class FieldChange:
    field: str  # the verbose name
    old: str
    new: str


@dataclass
class HistoryEntry:
    when: datetime
    user: object  # a User or None (system, import, shell)
    kind: str  # "+", "~", "-"
    reason: str
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return str(HISTORY_TYPES.get(self.kind, self.kind))

    @property
    def user_label(self) -> str:
        if self.user is None:
            return _("System")
        return self.user.get_full_name() or self.user.get_username()


def _diff_fields() -> list[str]:
    return [
        f.name
        for f in Asset._meta.concrete_fields
        if f.editable and f.name not in SKIP_FIELDS and f.name != "custom_fields"
    ]


def format_value(model_field: models.Field, value, related_names: dict | None = None) -> str:
    """A field value as the detail page shows it (choices by label, relations by name)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(model_field, models.ForeignKey):
        if isinstance(value, models.Model):
            return str(value)
        name = (related_names or {}).get((model_field.related_model, value))
        return name if name is not None else f"#{value}"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return format_plain(value)


def format_plain(value) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return str(formats.localize(timezone.localtime(value)))
    if isinstance(value, date | Decimal | int | float):
        return str(formats.localize(value))
    return str(value)


def _resolve_related(pending: dict[type[models.Model], set]) -> dict:
    """{(model, pk): name} with one query per related model."""
    names = {}
    for model, pks in pending.items():
        pks.discard(None)
        if not pks:
            continue
        qs = model._default_manager.all()
        if model is AssetModel:
            qs = qs.select_related("manufacturer")
        for pk, obj in qs.in_bulk(list(pks)).items():
            names[(model, pk)] = str(obj)
    return names


def _custom_changes(old: dict, new: dict, labels: dict[str, str]) -> list[tuple[str, str, str]]:
    old, new = old or {}, new or {}
    out = []
    for key in sorted(set(old) | set(new), key=lambda k: (k not in labels, k)):
        if old.get(key) != new.get(key):
            label = labels.get(key, key)
            out.append((label, format_plain(old.get(key)), format_plain(new.get(key))))
    return out


def asset_history(
    *, asset: Asset, limit: int = DEFAULT_LIMIT, schema: list[CustomField] | None = None
) -> list[HistoryEntry]:
    """The newest ``limit`` history entries of ``asset``, newest first, with their changes.

    ``schema`` (the category's custom fields) labels custom-field changes; read if omitted.
    """
    records = list(
        asset.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : limit + 1
        ]
    )
    diff_fields = _diff_fields()
    if schema is None:
        schema = category_schema(asset.category)
    cf_labels = {f.key: f.label for f in schema}

    raw: list[tuple] = []  # (record, previous record, [(model_field, old, new)])
    pending: dict[type[models.Model], set] = {}
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None:
            delta = record.diff_against(previous, included_fields=diff_fields)
            for change in delta.changes:
                changes.append((Asset._meta.get_field(change.field), change.old, change.new))
            for name in EXTRA_FIELDS:
                old, new = getattr(previous, name), getattr(record, name)
                if old != new:
                    changes.append((Asset._meta.get_field(name), old, new))
            for model_field, old, new in changes:
                if isinstance(model_field, models.ForeignKey):
                    pending.setdefault(model_field.related_model, set()).update({old, new})
        raw.append((record, previous, changes))

    related_names = _resolve_related(pending)
    order = {name: i for i, name in enumerate(f.name for f in Asset._meta.concrete_fields)}
    entries = []
    for record, previous, changes in raw:
        changes.sort(key=lambda c: order.get(c[0].name, 0))
        items = [
            FieldChange(
                field=str(model_field.verbose_name),
                old=format_value(model_field, old, related_names),
                new=format_value(model_field, new, related_names),
            )
            for model_field, old, new in changes
        ]
        if previous is not None:
            items += [
                FieldChange(field=label, old=old, new=new)
                for label, old, new in _custom_changes(
                    previous.custom_fields, record.custom_fields, cf_labels
                )
            ]
        entries.append(
            HistoryEntry(
                when=record.history_date,
                user=record.history_user,
                kind=record.history_type,
                reason=""
                if record.history_change_reason in SERVICE_REASONS
                else (record.history_change_reason or ""),
                changes=items,
            )
        )
    return entries
