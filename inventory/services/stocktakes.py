"""Stocktakes (盘点): create, update, start (freeze the expected list), scan, confirm a holder,
close, delete a draft. Count sheets of consumable stocktakes, the closing report, applying
results and self-confirmation live in their own modules.

Scanning is the hot path (several counters at once, each scan answered within a moment):

- A scan is identified by the id its device generated (``scan_id``); the scan row is unique
  per (stocktake, scan id), so a retried request hits the constraint, rolls back whatever it
  did and answers with the stored scan ("replay"): it counts once.
- An expected line is marked found with one conditional ``UPDATE … WHERE result='pending'``:
  of two counters scanning the same asset at once exactly one updates the row, the other
  records a duplicate. An asset off the list gets a line of its own under the unique
  (stocktake, asset) constraint, so it, too, is recorded once.
- The scan reads the stocktake's status with a shared lock (``LOCK IN SHARE MODE`` on MySQL):
  scans do not block each other, and closing (which locks the row for update) waits for the
  scans in flight and refuses later ones, so no scan lands on a closed stocktake.

Bad input is refused before anything is written, with a message a counter understands:
scanning into a stocktake that is not counting, a code with control characters or longer than
``SCAN_CODE_MAX_LENGTH``, a location outside the scope or the counter's assigned location, a
user who is not a counter of the stocktake.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from assets.lifecycle import Status as AssetStatus
from assets.models import Asset, Category, Department, Location, Person
from itassets.roles import ADMIN, CLERK, KEEPER, has_role

from ..models import ItemCategory, Warehouse
from ..models_stocktake import (
    RESULT_LABELS,
    SCAN_CODE_MAX_LENGTH,
    CountLine,
    Stocktake,
    StocktakeCounter,
    StocktakeExpected,
    StocktakeScan,
)
from .common import user_manages_warehouse
from .statements import OWN_TRANSACTION, commits_in_one_statement

PERM_MANAGE = "inventory.manage_stocktake"
PERM_COUNT = "inventory.count_stocktake"
PERM_VIEW = "inventory.view_stocktake"

Kind = Stocktake.Kind
State = Stocktake.Status
Line = StocktakeExpected.Result
ScanResult = StocktakeScan.Result

# Assets expected at a count: everything the organisation holds. Not ordered ones (not
# received), disposed or lost ones (gone), nor those at a repair shop (tracked by their repair
# order); any of these scanned anyway is recorded as unexpected.
EXPECTED_STATUSES = (
    AssetStatus.IN_STOCK,
    AssetStatus.IN_USE,
    AssetStatus.ON_LOAN,
    AssetStatus.PENDING_DISPOSAL,
)
FOUND_RESULTS = (Line.FOUND, Line.LOCATION_MISMATCH, Line.HOLDER_MISMATCH)
MAX_NAME_LENGTH = 200
MAX_NOTE_LENGTH = 500
MAX_COUNTERS = 200
MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
# A label's QR code holds the asset page's URL: …/assets/<tag>/.
_ASSET_URL = re.compile(r"/assets/([^/?#]+)/?(?:[?#].*)?$")


class ScanRefused(ValidationError):
    """A scan that cannot be recorded; ``message`` says why. Nothing was written."""


@dataclass
class ScanOutcome:
    """What a scan did, for the counter's screen."""

    result: str
    tag: str = ""
    name: str = ""
    expected_location: str = ""
    expected_holder: str = ""
    line_id: int | None = None
    replay: bool = False

    @property
    def label(self) -> str:
        return str(RESULT_LABELS.get(self.result) or ScanResult(self.result).label)

    @property
    def colour(self) -> str:
        return StocktakeScan.RESULT_BADGE.get(self.result, "secondary")

    @property
    def message(self) -> str:
        if self.result == ScanResult.FOUND:
            return _("On the list and in place.")
        if self.result == ScanResult.LOCATION_MISMATCH:
            return _("Registered at %(location)s.") % {"location": self.expected_location or "—"}
        if self.result == ScanResult.HOLDER_MISMATCH:
            return _("Registered to %(holder)s.") % {"holder": self.expected_holder or "—"}
        if self.result == ScanResult.DUPLICATE:
            return _("Already counted: not counted again.")
        if self.result == ScanResult.UNEXPECTED:
            return _(
                "In the register but not on this stocktake's list (registered at %(location)s)."
            ) % {"location": self.expected_location or "—"}
        return _("Not in the register: add a photo or a note.")

    def as_dict(self) -> dict:
        return {
            "result": self.result,
            "label": self.label,
            "colour": self.colour,
            "message": self.message,
            "tag": self.tag,
            "name": self.name,
            "expected_location": self.expected_location,
            "expected_holder": self.expected_holder,
            "line": self.line_id,
            "replay": self.replay,
        }


# --- Permissions ------------------------------------------------------------------------------


def may_manage(user, kind: str) -> bool:
    """Managers of asset stocktakes are clerks, of consumable ones keepers; administrators
    manage both. Everyone else may at most count (if assigned) or read (auditors)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not user.has_perm(PERM_MANAGE):
        return False
    if user.is_superuser or has_role(user, ADMIN):
        return True
    return has_role(user, CLERK) if kind == Kind.ASSET else has_role(user, KEEPER)


def may_manage_stocktake(user, stocktake: Stocktake) -> bool:
    """Whether ``user`` manages this stocktake: ``may_manage`` for its kind and, for a
    consumable stocktake, keeping every warehouse it counts (administrators keep all)."""
    if not may_manage(user, stocktake.kind):
        return False
    if stocktake.kind == Kind.ASSET:
        return True
    warehouse_ids = list(stocktake.warehouses.values_list("pk", flat=True))
    return all(user_manages_warehouse(user, pk) for pk in warehouse_ids)


def _require_manage(actor, kind: str) -> None:
    if actor is not None and not may_manage(actor, kind):
        raise PermissionDenied(_("You are not allowed to manage this stocktake."))


def _require_manage_stocktake(actor, stocktake: Stocktake) -> None:
    if actor is not None and not may_manage_stocktake(actor, stocktake):
        raise PermissionDenied(_("You are not allowed to manage this stocktake."))


def may_count(user) -> bool:
    return bool(user and user.is_active and user.has_perm(PERM_COUNT))


# --- Create, update, delete -------------------------------------------------------------------


def _ids(values) -> list[int]:
    out = []
    for v in values or ():
        pk = getattr(v, "pk", v)
        if pk not in (None, ""):
            out.append(int(pk))
    return sorted(set(out))


def _existing(model, ids: list[int]) -> list[int]:
    return sorted(model.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else []


def _clean_counters(counters, errors: dict) -> list[tuple[int, int | None]]:
    """``counters``: users, or mappings ``{"user": user|id, "location": location|id|None}``."""
    from django.contrib.auth import get_user_model

    pairs: list[tuple[int, int | None]] = []
    for entry in counters or ():
        if isinstance(entry, Mapping):
            user, location = entry.get("user"), entry.get("location")
        else:
            user, location = entry, None
        user_id = getattr(user, "pk", user)
        location_id = getattr(location, "pk", location) or None
        if user_id in (None, ""):
            continue
        pair = (int(user_id), int(location_id) if location_id else None)
        if pair not in pairs:
            pairs.append(pair)
    if len(pairs) > MAX_COUNTERS:
        errors.setdefault("counters", []).append(
            _("A stocktake has at most %(n)s counters.") % {"n": MAX_COUNTERS}
        )
        return []
    users = get_user_model().objects.filter(pk__in={u for u, _loc in pairs}, is_active=True)
    allowed = {u.pk for u in users if may_count(u)}
    refused = sorted({u for u, _loc in pairs if u not in allowed})
    if refused:
        names = ", ".join(
            get_user_model().objects.filter(pk__in=refused).values_list("username", flat=True)
        )
        errors.setdefault("counters", []).append(
            _("These users may not count stocktakes: %(users)s.") % {"users": names or refused}
        )
    location_ids = {loc for _u, loc in pairs if loc}
    if location_ids and len(_existing(Location, sorted(location_ids))) != len(location_ids):
        errors.setdefault("counters", []).append(_("Unknown counter location."))
    return pairs


def _validate(
    *,
    actor,
    kind: str,
    name: str,
    deadline: date | None,
    locations,
    departments,
    categories,
    warehouses,
    item_categories,
    counters,
    check_deadline: bool,
) -> tuple[dict, list[tuple[int, int | None]]]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Please give the stocktake a name.")]
    elif len(name) > MAX_NAME_LENGTH:
        errors["name"] = [
            _("The name is too long (at most %(n)s characters).") % {"n": MAX_NAME_LENGTH}
        ]
    if kind not in Kind.values:
        errors["kind"] = [_("Unknown kind of stocktake.")]
    if check_deadline and deadline is not None and deadline < timezone.localdate():
        errors["deadline"] = [_("The deadline cannot be in the past.")]
    scope = {
        "locations": _ids(locations),
        "departments": _ids(departments),
        "categories": _ids(categories),
        "warehouses": _ids(warehouses),
        "item_categories": _ids(item_categories),
    }
    for field, model in (
        ("locations", Location),
        ("departments", Department),
        ("categories", Category),
        ("warehouses", Warehouse),
        ("item_categories", ItemCategory),
    ):
        if len(_existing(model, scope[field])) != len(scope[field]):
            errors.setdefault(field, []).append(_("Unknown entries in the scope."))
    if kind == Kind.CONSUMABLE:
        if not scope["warehouses"]:
            errors["warehouses"] = [_("Choose at least one warehouse to count.")]
        elif actor is not None and not all(
            user_manages_warehouse(actor, w) for w in scope["warehouses"]
        ):
            errors["warehouses"] = [_("You may only count warehouses you keep.")]
    pairs = _clean_counters(counters, errors)
    if not pairs:
        errors.setdefault("counters", []).append(_("Assign at least one counter."))
    values = {"name": name, "deadline": deadline, **scope}
    if errors:
        raise ValidationError(errors)
    return values, pairs


def _set_scope(stocktake: Stocktake, values: dict) -> None:
    for field in ("locations", "departments", "categories", "warehouses", "item_categories"):
        getattr(stocktake, field).set(values[field])


def _set_counters(stocktake: Stocktake, pairs: list[tuple[int, int | None]]) -> None:
    current = set(
        StocktakeCounter.objects.filter(stocktake=stocktake).values_list("user_id", "location_id")
    )
    wanted = set(pairs)
    stale = current - wanted
    if stale:
        q = Q()
        for user_id, location_id in stale:
            q |= Q(user_id=user_id, location_id=location_id)
        StocktakeCounter.objects.filter(q, stocktake=stocktake).delete()
    StocktakeCounter.objects.bulk_create(
        StocktakeCounter(stocktake=stocktake, user_id=u, location_id=loc)
        for u, loc in pairs
        if (u, loc) not in current
    )


@transaction.atomic
def stocktake_create(
    *,
    actor,
    name: str,
    kind: str = Kind.ASSET,
    locations: Iterable = (),
    departments: Iterable = (),
    categories: Iterable = (),
    warehouses: Iterable = (),
    item_categories: Iterable = (),
    counters: Iterable = (),
    deadline: date | None = None,
    note: str = "",
) -> Stocktake:
    """A draft stocktake with its scope and counters. Nothing is frozen until it starts."""
    _require_manage(actor, kind)
    values, pairs = _validate(
        actor=actor,
        kind=kind,
        name=name,
        deadline=deadline,
        locations=locations,
        departments=departments,
        categories=categories,
        warehouses=warehouses,
        item_categories=item_categories,
        counters=counters,
        check_deadline=True,
    )
    stocktake = Stocktake(
        name=values["name"],
        kind=kind,
        deadline=deadline,
        note=(note or "").strip()[:5000],
        created_by=actor,
    )
    stocktake.full_clean()
    stocktake.save()
    _set_scope(stocktake, values)
    _set_counters(stocktake, pairs)
    return stocktake


def _lock(stocktake: Stocktake | int) -> Stocktake:
    pk = getattr(stocktake, "pk", stocktake)
    return Stocktake.objects.select_for_update().get(pk=pk)


def _refuse_status(stocktake: Stocktake, action: str):
    raise ValidationError(
        _("This stocktake cannot be %(action)s: it is “%(status)s”.")
        % {"action": action, "status": stocktake.get_status_display()},
        code="status",
    )


@transaction.atomic
def stocktake_update(
    *,
    actor,
    stocktake: Stocktake,
    name: str,
    counters: Iterable,
    deadline: date | None = None,
    note: str | None = None,
    locations: Iterable | None = None,
    departments: Iterable | None = None,
    categories: Iterable | None = None,
    warehouses: Iterable | None = None,
    item_categories: Iterable | None = None,
) -> Stocktake:
    """Edit a stocktake: everything while a draft; once counting only the name, note, deadline
    and counters (the scope is frozen). Closed stocktakes are read-only."""
    stocktake = _lock(stocktake)
    _require_manage_stocktake(actor, stocktake)
    if stocktake.status not in (State.DRAFT, State.COUNTING):
        _refuse_status(stocktake, _("changed"))
    draft = stocktake.status == State.DRAFT

    def pick(given, field):
        if given is None or not draft:
            return list(getattr(stocktake, field).values_list("pk", flat=True))
        return given

    values, pairs = _validate(
        actor=actor,
        kind=stocktake.kind,
        name=name,
        deadline=deadline,
        locations=pick(locations, "locations"),
        departments=pick(departments, "departments"),
        categories=pick(categories, "categories"),
        warehouses=pick(warehouses, "warehouses"),
        item_categories=pick(item_categories, "item_categories"),
        counters=counters,
        check_deadline=deadline != stocktake.deadline,
    )
    stocktake.name = values["name"]
    stocktake.deadline = deadline
    fields = ["name", "deadline"]
    if note is not None:
        stocktake.note = note.strip()[:5000]
        fields.append("note")
    stocktake.save(update_fields=fields)
    if draft:
        _set_scope(stocktake, values)
    _set_counters(stocktake, pairs)
    return stocktake


@transaction.atomic
def stocktake_delete(*, actor, stocktake: Stocktake) -> None:
    """Delete a draft (nothing was counted yet)."""
    stocktake = _lock(stocktake)
    _require_manage_stocktake(actor, stocktake)
    if stocktake.status != State.DRAFT:
        _refuse_status(stocktake, _("deleted"))
    stocktake.delete()


# --- Start: freeze the expected list ----------------------------------------------------------


def _subtree_ids(model, ids: list[int]):
    """A subquery of the ids of the nodes ``ids`` and all their descendants."""
    paths = list(model.objects.filter(pk__in=ids).values_list("path", flat=True))
    q = Q()
    for path in paths:
        q |= Q(path__startswith=path)
    return model.objects.filter(q).values("pk")


def stocktake_scope_assets(stocktake: Stocktake):
    """The assets in the stocktake's scope now (each non-empty dimension with subtrees)."""
    qs = Asset.objects.filter(status__in=EXPECTED_STATUSES)
    for field, model, relation in (
        ("location", Location, "locations"),
        ("department", Department, "departments"),
        ("category", Category, "categories"),
    ):
        ids = list(getattr(stocktake, relation).values_list("pk", flat=True))
        if ids:
            qs = qs.filter(**{f"{field}_id__in": _subtree_ids(model, ids)})
    return qs.order_by()


# Columns of a frozen line: (line column, asset column) copied by INSERT … SELECT.
_FROZEN = (
    ("asset_id", "id"),
    ("tag", "tag"),
    ("expected_location_id", "location_id"),
    ("expected_holder_id", "holder_id"),
    ("expected_department_id", "department_id"),
    ("expected_status", "status"),
    ("cost", "cost"),
)
# NOT NULL columns without a value of their own at freeze (Django sets no database defaults).
_CONSTANT = (
    ("result", Line.PENDING.value),
    ("method", ""),
    ("confirm_photo", ""),
    ("confirm_note", ""),
    ("applied_action", ""),
    ("apply_note", ""),
)


def _freeze_assets(stocktake: Stocktake) -> int:
    """One ``INSERT INTO lines (…) SELECT … FROM assets WHERE <scope>``: the database copies
    the rows itself (20,000 assets in well under a second), no row passes through Python."""
    source = stocktake_scope_assets(stocktake).values_list(*(a for _l, a in _FROZEN))
    select_sql, select_params = source.query.sql_with_params()
    qn = connection.ops.quote_name
    table = qn(StocktakeExpected._meta.db_table)
    columns = [line for line, _a in _FROZEN] + ["stocktake_id"] + [c for c, _v in _CONSTANT]
    constants = ", ".join(["%s"] * (1 + len(_CONSTANT)))
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608 (names only)
        f"SELECT frozen.*, {constants} FROM ({select_sql}) frozen"
    )
    params = [stocktake.pk, *(v for _c, v in _CONSTANT), *select_params]  # in textual order
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@transaction.atomic
def stocktake_start(*, actor, stocktake: Stocktake) -> Stocktake:
    """Start counting: freeze what is expected now (asset lines, or the count sheets of a
    consumable stocktake). Assets entering or leaving the scope later change nothing."""
    stocktake = _lock(stocktake)
    _require_manage_stocktake(actor, stocktake)
    if stocktake.status != State.DRAFT:
        _refuse_status(stocktake, _("started"))
    stocktake.status = State.COUNTING
    if stocktake.kind == Kind.ASSET:
        stocktake.expected_count = _freeze_assets(stocktake)
    else:
        from . import count_sheets  # consumables: one count sheet per warehouse

        sheets = count_sheets.count_sheets_freeze(stocktake=stocktake)
        stocktake.expected_count = CountLine.objects.filter(sheet__in=sheets).count()
    stocktake.started_at = timezone.now()
    stocktake.started_by = actor
    stocktake.save(update_fields=["status", "started_at", "started_by", "expected_count"])
    return stocktake


# --- Close ------------------------------------------------------------------------------------


@transaction.atomic
def stocktake_close(*, actor, stocktake: Stocktake) -> Stocktake:
    """Stop counting. Asset lines still pending become missing (盘亏); a consumable stocktake
    posts its count sheets' variances. Afterwards the stocktake is read-only."""
    stocktake = _lock(stocktake)  # waits for scans in flight (they hold a shared lock)
    _require_manage_stocktake(actor, stocktake)
    if stocktake.status != State.COUNTING:
        _refuse_status(stocktake, _("closed"))
    if stocktake.kind == Kind.ASSET:
        StocktakeExpected.objects.filter(stocktake=stocktake, result=Line.PENDING).update(
            result=Line.MISSING
        )
    else:
        from . import count_sheets

        count_sheets.count_sheets_post(stocktake=stocktake, actor=actor)
    stocktake.status = State.CLOSED
    stocktake.closed_at = timezone.now()
    stocktake.closed_by = actor
    stocktake.save(update_fields=["status", "closed_at", "closed_by"])
    return stocktake


# --- Scanning ---------------------------------------------------------------------------------


@functools.cache
def _sql_for(vendor: str) -> dict[str, str]:
    """The scan path's statements, written once: the ORM would compile the same few queries
    on every scan, which costs more CPU than the database spends answering them."""
    qn = connection.ops.quote_name

    def table(model) -> str:
        return qn(model._meta.db_table)

    def col(model, name: str, alias: str) -> str:
        return f"{alias}.{qn(model._meta.get_field(name).column)}"

    st, counter, loc = Stocktake, StocktakeCounter, Location
    line, scan, asset, person = StocktakeExpected, StocktakeScan, Asset, Person
    through = Stocktake.locations.through
    lock = " LOCK IN SHARE MODE" if vendor == "mysql" else ""
    path = col(loc, "path", "l")
    scan_columns = (
        "stocktake",
        "scan_id",
        "raw_code",
        "counter",
        "location",
        "result",
        "asset",
        "line",
        "note",
        "photo",
        "created_at",
    )
    # One row for the scan: the stocktake's status and kind (the shared lock, on this row only:
    # a locking clause does not reach into subqueries), the counter's areas (JSON array, null:
    # the whole scope; NULL or empty: not a counter), the scope's locations, the path of the
    # location scanned at and the line of the code with its asset, expected location and
    # holder (JSON array). The line is read without a lock, so that two counters scanning the
    # same asset do not deadlock upgrading their locks; the conditional UPDATE decides.
    # (MySQL bounds JSON_ARRAYAGG by group_concat_max_len, 1 MB by default: some 30,000
    # scope locations.)
    array, agg = (
        ("JSON_ARRAY", "JSON_ARRAYAGG") if vendor == "mysql" else ("json_array", "json_group_array")
    )
    read = (
        f"SELECT {col(st, 'status', 's')}, {col(st, 'kind', 's')}, "  # noqa: S608 (names)
        f"(SELECT {agg}({path}) FROM {table(counter)} c "
        f"LEFT JOIN {table(loc)} l ON {col(loc, 'id', 'l')} = {col(counter, 'location', 'c')} "
        f"WHERE {col(counter, 'stocktake', 'c')} = {col(st, 'id', 's')} "
        f"AND {col(counter, 'user', 'c')} = %s), "
        f"(SELECT {agg}({path}) FROM {table(through)} t "
        f"INNER JOIN {table(loc)} l ON {col(loc, 'id', 'l')} = t.{qn('location_id')} "
        f"WHERE t.{qn('stocktake_id')} = {col(st, 'id', 's')}), "
        f"(SELECT {path} FROM {table(loc)} l WHERE {col(loc, 'id', 'l')} = %s), "
        f"(SELECT {array}({col(line, 'id', 'e')}, {col(line, 'result', 'e')}, "
        f"{col(line, 'asset', 'e')}, {col(line, 'tag', 'e')}, {col(asset, 'name', 'a')}, "
        f"{col(line, 'expected_holder', 'e')}, {path}, {col(loc, 'full_name', 'l')}, "
        f"{col(person, 'name', 'p')}) FROM {table(line)} e "
        f"INNER JOIN {table(asset)} a ON {col(asset, 'id', 'a')} = {col(line, 'asset', 'e')} "
        f"LEFT JOIN {table(loc)} l ON {col(loc, 'id', 'l')} = "
        f"{col(line, 'expected_location', 'e')} "
        f"LEFT JOIN {table(person)} p ON {col(person, 'id', 'p')} = "
        f"{col(line, 'expected_holder', 'e')} "
        f"WHERE {col(line, 'stocktake', 'e')} = {col(st, 'id', 's')} "
        f"AND {col(line, 'tag', 'e')} = %s) "
        f"FROM {table(st)} s WHERE {col(st, 'id', 's')} = %s"
    )
    find = (
        f"UPDATE {table(line)} SET {qn('result')} = %s, {qn('method')} = %s, "  # noqa: S608
        f"{qn('found_location_id')} = %s, {qn('observed_holder_id')} = %s, "
        f"{qn('found_at')} = %s, {qn('found_by_id')} = %s "
        f"WHERE {qn('id')} = %s AND {qn('result')} = %s"
    )
    insert_head = (
        f"INSERT INTO {table(scan)} ("  # noqa: S608 (names only)
        + ", ".join(qn(scan._meta.get_field(f).column) for f in scan_columns)
        + ") VALUES "
    )
    marks = ["%s"] * len(scan_columns)
    statements = {
        "status": (
            f"SELECT {col(st, 'status', 's')}, {col(st, 'kind', 's')} "  # noqa: S608 (names)
            f"FROM {table(st)} s "
            f"WHERE {col(st, 'id', 's')} = %s{lock}"
        ),
        # Inside the scan's transaction: the shared lock on the stocktake row.
        "read": read + lock,
        # Marks a pending line found; 0 rows: another counter was first.
        "find": find,
        "insert": insert_head + f"({', '.join(marks)})",
    }
    if vendor == "mysql":
        statements.update(_record_sql(read, find, insert_head, marks, scan_columns))
    return statements


def _record_sql(read, find, insert_head, marks, scan_columns) -> dict[str, str]:
    """MariaDB: a scan of a listed asset written as one compound statement, outside any open
    transaction (see ``_scan_in_one_statement``). The read is a plain one (no transaction, no
    lock); the statement then opens the transaction itself, takes the shared lock on the
    stocktake row, checks that it is still counting an asset stocktake, marks the line found
    if it is still pending (``found``; a duplicate otherwise), inserts the scan and commits;
    any error rolls back before it is raised (the exit handler), so no transaction is left
    open. It answers the status and kind it saw under the lock and whether it marked the
    line. ``record`` marks and inserts, ``record_duplicate`` only inserts."""
    meta = Stocktake._meta
    table = connection.ops.quote_name(meta.db_table)
    status, kind, pk = (
        connection.ops.quote_name(meta.get_field(name).column) for name in ("status", "kind", "id")
    )
    status_type, kind_type = (meta.get_field(n).db_type(connection) for n in ("status", "kind"))
    result_at = scan_columns.index("result")
    head = (
        f"BEGIN NOT ATOMIC DECLARE v_status {status_type}; DECLARE v_kind {kind_type}; "  # noqa: S608
        "DECLARE v_found INT DEFAULT 0; "
        "DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_status = NULL; "
        f"{OWN_TRANSACTION} "
        f"SELECT {status}, {kind} INTO v_status, v_kind FROM {table} "
        f"WHERE {pk} = %s LOCK IN SHARE MODE; "
        "IF v_status = %s AND v_kind = %s THEN "
    )
    tail = "COMMIT; ELSE ROLLBACK; END IF; SELECT v_status, v_kind, v_found; END"
    marked = list(marks)
    marked[result_at] = "IF(v_found > 0, %s, %s)"
    return {
        "read_unlocked": read,
        "record": (
            f"{head}{find}; SET v_found = ROW_COUNT(); {insert_head}({', '.join(marked)}); {tail}"
        ),
        "record_duplicate": f"{head}{insert_head}({', '.join(marks)}); {tail}",
    }


def _sql() -> dict[str, str]:
    return _sql_for(connection.vendor)


def _db_datetime(value):
    return connection.ops.adapt_datetimefield_value(value)


def clean_code(raw) -> str:
    """The asset tag in a scanned code: surrounding whitespace (a wedge scanner's Enter or
    Tab) removed, the tag taken out of a label's URL. Refuses control characters and codes
    longer than ``SCAN_CODE_MAX_LENGTH``."""
    code = str(raw or "").strip()
    if not code:
        raise ScanRefused(_("Nothing was scanned."), code="empty")
    if len(code) > SCAN_CODE_MAX_LENGTH:
        raise ScanRefused(
            _("This code is too long to be an asset label (more than %(n)s characters).")
            % {"n": SCAN_CODE_MAX_LENGTH},
            code="too_long",
        )
    # isprintable() is False for every control, format, surrogate, private or unassigned
    # character (category C): the exact test runs only on the few codes that fail it.
    if not code.isprintable() and any(unicodedata.category(ch)[0] == "C" for ch in code):
        raise ScanRefused(
            _("The code contains control characters: check the scanner's settings."),
            code="control",
        )
    match = _ASSET_URL.search(code)
    if match and "://" in code:
        code = unquote(match.group(1)).strip() or code
    return code


def _parse_scan_id(value) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value or "").strip())
    except ValueError:
        raise ScanRefused(_("The scan has no valid id; reload the page."), code="scan_id") from None


def _check_photo(photo) -> None:
    if not photo:
        return
    if photo.size > MAX_PHOTO_BYTES:
        raise ScanRefused(_("The photo is too large (at most 10 MB)."), code="photo")
    if (getattr(photo, "content_type", "") or "").lower() not in PHOTO_TYPES:
        raise ScanRefused(_("The photo must be a JPEG, PNG, WebP or HEIC image."), code="photo")


def _status_shared(stocktake_id: int) -> tuple[str, str] | None:
    """(status, kind) of the stocktake, read with a shared lock where the database has one."""
    with connection.cursor() as cursor:
        cursor.execute(_sql()["status"], [stocktake_id])
        return cursor.fetchone()


def _refuse_not_counting(status: str | None, kind: str | None) -> None:
    if status is None:
        raise Stocktake.DoesNotExist
    if status == State.DRAFT:
        raise ScanRefused(_("This stocktake has not started yet."), code="not_started")
    if status != State.COUNTING:
        raise ScanRefused(_("This stocktake is closed: no more scans."), code="closed")
    if kind != Kind.ASSET:
        raise ScanRefused(
            _("This is a consumable stocktake: count on its count sheets."), code="kind"
        )


def _within(path: str, ancestors: Iterable[str]) -> bool:
    return any(path.startswith(a) for a in ancestors)


@dataclass
class _ScanContext:
    """What a scan needs to know, read in one statement (``_sql_for``'s ``read``): the
    stocktake's status and kind (None: no such stocktake), the counter's areas (None: the
    whole scope; empty: not a counter), the scope's locations, the path of the location
    scanned at (None: no such location) and the line of the code (None: not on the list)."""

    location_id: int
    status: str | None
    kind: str | None
    assigned: list
    scope: list
    path: str | None
    line: list | None


def _json_list(value) -> list:
    return json.loads(value) if value else []


def _scan_read(
    cursor, *, stocktake_id: int, user, location_id, code: str, sql: str = "read"
) -> _ScanContext:
    try:
        location_id = int(location_id)
    except (TypeError, ValueError):
        location_id = 0
    cursor.execute(_sql()[sql], [user.pk, location_id, code, stocktake_id])
    row = cursor.fetchone()
    if row is None:
        return _ScanContext(location_id, None, None, [], [], None, None)
    status, kind, assigned, scope, path, line = row
    return _ScanContext(
        location_id=location_id,
        status=status,
        kind=kind,
        assigned=_json_list(assigned),
        scope=_json_list(scope),
        path=path,
        line=json.loads(line) if line else None,
    )


def _require_counter(context: _ScanContext) -> None:
    if not context.assigned:
        raise PermissionDenied(_("You are not a counter of this stocktake."))


def _check_location(context: _ScanContext) -> str:
    """The path of the location scanned at, if it lies in the scope and the counter's area."""
    path = context.path
    if path is None:
        raise ScanRefused(_("Choose the location you are counting."), code="location")
    if context.scope and not _within(path, context.scope):
        raise ScanRefused(
            _("%(location)s is outside this stocktake's scope.") % {"location": _name(path)},
            code="location_scope",
        )
    if None not in context.assigned and not _within(path, context.assigned):
        raise ScanRefused(
            _("You are assigned to count elsewhere, not at %(location)s.")
            % {"location": _name(path)},
            code="location_counter",
        )
    return path


def _name(path: str) -> str:
    return Location.objects.filter(path=path).values_list("full_name", flat=True).first() or ""


def _same_place(found: str, expected: str | None) -> bool:
    """Found at the expected place, or at a place that contains it or that it contains (an
    asset registered to a room is in place when counted at that room's floor, and one
    registered to a building is in place in any of its rooms)."""
    if not expected:
        return False
    return found.startswith(expected) or expected.startswith(found)


def _resolve_holder(value) -> Person | None:
    if value in (None, ""):
        return None
    if isinstance(value, Person):
        return value
    if isinstance(value, int):  # an id from code; what people type is an employee number
        person = Person.objects.filter(pk=value).first()
    else:
        person = Person.objects.filter(employee_no=str(value).strip()[:50]).first()
    if person is None:
        raise ScanRefused(_("Unknown person."), code="holder")
    return person


def _replay(stocktake_id: int, scan_id: uuid.UUID) -> ScanOutcome | None:
    row = (
        StocktakeScan.objects.filter(stocktake_id=stocktake_id, scan_id=scan_id)
        .values(
            "result",
            "raw_code",
            "line_id",
            "asset__tag",
            "asset__name",
            "line__expected_location__full_name",
            "line__expected_holder__name",
        )
        .first()
    )
    if row is None:
        return None
    return ScanOutcome(
        result=row["result"],
        tag=row["asset__tag"] or row["raw_code"],
        name=row["asset__name"] or "",
        expected_location=row["line__expected_location__full_name"] or "",
        expected_holder=row["line__expected_holder__name"] or "",
        line_id=row["line_id"],
        replay=True,
    )


def stocktake_scan(
    *,
    actor,
    stocktake_id: int,
    scan_id,
    code: str,
    location_id,
    holder=None,
    note: str = "",
    photo=None,
) -> ScanOutcome:
    """Record one scan by a counter at ``location_id`` and say what it found. Idempotent per
    ``scan_id``. Raises ``ScanRefused`` (nothing recorded), ``PermissionDenied`` (not a
    counter of this stocktake) or ``Stocktake.DoesNotExist``."""
    scan_uuid = _parse_scan_id(scan_id)
    code = clean_code(code)
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ScanRefused(
            _("The note is too long (at most %(n)s characters).") % {"n": MAX_NOTE_LENGTH},
            code="note",
        )
    _check_photo(photo)
    person = _resolve_holder(holder)
    if photo:  # keep a retried upload from storing the photo twice
        replay = _replay(stocktake_id, scan_uuid)
        if replay is not None:
            return replay
    scan = {
        "actor": actor,
        "stocktake_id": stocktake_id,
        "scan_id": scan_uuid,
        "code": code,
        "location_id": location_id,
        "holder": person,
        "note": note,
    }
    try:
        if not photo and _scans_in_one_statement():
            outcome = _scan_in_one_statement(**scan)
            if outcome is not None:
                return outcome
        with transaction.atomic(), connection.cursor() as cursor:
            return _scan(cursor, photo=photo, **scan)
    except IntegrityError:
        replay = _replay(stocktake_id, scan_uuid)
        if replay is None:
            raise
        return replay
    except ScanRefused:
        # A retry of a scan recorded before the stocktake closed gets its answer again.
        replay = _replay(stocktake_id, scan_uuid)
        if replay is None:
            raise
        return replay


def _scan(cursor, *, actor, stocktake_id, scan_id, code, location_id, holder, note, photo):
    # One statement reads everything (and takes the shared lock); then the checks in order:
    # who may scan (a stranger learns nothing of the stocktake), its state, then where.
    context = _scan_read(
        cursor, stocktake_id=stocktake_id, user=actor, location_id=location_id, code=code
    )
    _require_counter(context)
    _refuse_not_counting(context.status, context.kind)
    location_path = _check_location(context)
    location_id = context.location_id
    now = timezone.now()
    now_db = _db_datetime(now)
    sql = _sql()
    line = context.line
    outcome = ScanOutcome(result=ScanResult.UNKNOWN, tag=code)
    asset_id = None
    if line is not None:
        outcome, asset_id, mark = _judge(line, location_path, holder)
        if mark is not None:
            cursor.execute(
                sql["find"], _find_params(mark, location_id, holder, now_db, actor, line)
            )
            outcome.result = mark if cursor.rowcount else ScanResult.DUPLICATE
    else:
        asset = (
            Asset.objects.filter(tag=code)
            .values("id", "tag", "name", "location__full_name", "holder__name")
            .first()
        )
        if asset is not None:
            asset_id = asset["id"]
            outcome.tag = asset["tag"]
            outcome.name = asset["name"]
            outcome.expected_location = asset["location__full_name"] or ""
            outcome.expected_holder = asset["holder__name"] or ""
            outcome.line_id, outcome.result = _add_unexpected(
                stocktake_id=stocktake_id,
                asset_id=asset_id,
                location_id=location_id,
                holder=holder,
                actor=actor,
                now=now,
            )
        elif StocktakeScan.objects.filter(
            stocktake_id=stocktake_id, result=ScanResult.UNKNOWN, raw_code=code
        ).exists():
            outcome.result = ScanResult.DUPLICATE
    if photo:  # the rare path: the model saves the photo to storage
        scan = StocktakeScan(
            stocktake_id=stocktake_id,
            scan_id=scan_id,
            raw_code=code,
            counter=actor,
            location_id=location_id,
            result=outcome.result,
            asset_id=asset_id,
            line_id=outcome.line_id,
            note=note,
            created_at=now,
        )
        scan.photo.save(photo.name or "photo.jpg", photo, save=False)
        scan.save(force_insert=True)
        return outcome
    cursor.execute(
        sql["insert"],
        _insert_params(
            stocktake_id,
            scan_id,
            code,
            actor,
            location_id,
            [outcome.result],
            asset_id,
            outcome.line_id,
            note,
            now_db,
        ),
    )
    return outcome


def _judge(line: list, location_path: str, holder) -> tuple[ScanOutcome, int, str | None]:
    """A scan of a listed asset (``line`` as the read gives it) at ``location_path``: its
    outcome, the asset's id and the result to mark the line with if it is still pending
    (None: it was found before, the outcome is a duplicate)."""
    (line_id, line_result, asset_id, tag, name, holder_id) = line[:6]
    expected_path, expected, holder_name = line[6:]
    outcome = ScanOutcome(
        result=ScanResult.DUPLICATE,
        tag=tag,
        name=name,
        expected_location=expected or "",
        expected_holder=holder_name or "",
        line_id=line_id,
    )
    if line_result != Line.PENDING:
        return outcome, asset_id, None
    if not _same_place(location_path, expected_path):
        mark = Line.LOCATION_MISMATCH
    elif holder is not None and holder.pk != holder_id:
        mark = Line.HOLDER_MISMATCH
    else:
        mark = Line.FOUND
    return outcome, asset_id, mark


def _find_params(mark, location_id, holder, now_db, actor, line) -> list:
    """The parameters of the ``find`` statement (the line's id is the read's first value)."""
    return [
        mark,
        StocktakeExpected.Method.SCAN,
        location_id,
        holder.pk if holder else None,
        now_db,
        actor.pk,
        line[0],
        Line.PENDING,
    ]


def _insert_params(
    stocktake_id, scan_id, code, actor, location_id, result: list, asset_id, line_id, note, now_db
) -> list:
    """The parameters of the scan row's insert; ``result`` holds one value, or two where the
    compound statement chooses (found or duplicate)."""
    scan_id_db = StocktakeScan._meta.get_field("scan_id").get_db_prep_value(scan_id, connection)
    return [
        stocktake_id,
        scan_id_db,
        code,
        actor.pk,
        location_id,
        *result,
        asset_id,
        line_id,
        note,
        "",
        now_db,
    ]


def _scans_in_one_statement() -> bool:
    """Whether a scan can be written by ``_scan_in_one_statement``: on MariaDB (anonymous
    compound statements), when no transaction is open (the statement commits its own)."""
    return commits_in_one_statement()


def _scan_in_one_statement(
    *, actor, stocktake_id, scan_id, code, location_id, holder, note
) -> ScanOutcome | None:
    """The common scan, a listed asset without a photo, in two round trips and no
    transaction of Django's: the read (no lock), the checks, then one compound statement that
    takes the stocktake's shared lock, re-checks that it is counting, marks the line and
    inserts the scan, and commits (``_record_sql``). The transactional path took seven round
    trips (autocommit off, the locked read, the update, the insert, commit, autocommit on).

    What the read showed without the lock is as good as what the locked read showed: the
    status is checked again under the lock (closing, which takes the row for update, waits
    for the statement or makes it refuse), the line's state is decided by the conditional
    update as before, and the scope, the counter's areas and the locations are what they were
    a few milliseconds earlier. None: the code is not on the list (the transactional path
    records it)."""
    with connection.cursor() as cursor:
        context = _scan_read(
            cursor,
            stocktake_id=stocktake_id,
            user=actor,
            location_id=location_id,
            code=code,
            sql="read_unlocked",
        )
        if context.line is None:
            return None
        _require_counter(context)
        _refuse_not_counting(context.status, context.kind)
        location_path = _check_location(context)
        location_id = context.location_id
        now_db = _db_datetime(timezone.now())
        outcome, asset_id, mark = _judge(context.line, location_path, holder)
        params = [stocktake_id, State.COUNTING, Kind.ASSET]
        if mark is not None:
            params += _find_params(mark, location_id, holder, now_db, actor, context.line)
        params += _insert_params(
            stocktake_id,
            scan_id,
            code,
            actor,
            location_id,
            [mark, ScanResult.DUPLICATE] if mark is not None else [ScanResult.DUPLICATE],
            asset_id,
            outcome.line_id,
            note,
            now_db,
        )
        cursor.execute(_sql()["record" if mark is not None else "record_duplicate"], params)
        status, kind, found = cursor.fetchone()
    _refuse_not_counting(status, kind)  # closed meanwhile: nothing was written
    if mark is not None and found:
        outcome.result = mark
    return outcome


def _add_unexpected(*, stocktake_id, asset_id, location_id, holder, actor, now):
    """A line for a known asset off the list (盘盈), once: the unique (stocktake, asset)
    constraint turns a concurrent second one into a duplicate."""
    asset = Asset.objects.filter(pk=asset_id).values(
        "tag", "location_id", "holder_id", "department_id", "status", "cost"
    )[0]
    try:
        with transaction.atomic():
            line = StocktakeExpected.objects.create(
                stocktake_id=stocktake_id,
                asset_id=asset_id,
                tag=asset["tag"],
                expected_location_id=asset["location_id"],
                expected_holder_id=asset["holder_id"],
                expected_department_id=asset["department_id"],
                expected_status=asset["status"],
                cost=asset["cost"],
                result=Line.UNEXPECTED,
                method=StocktakeExpected.Method.SCAN,
                found_location_id=location_id,
                observed_holder=holder,
                found_at=now,
                found_by=actor,
            )
    except IntegrityError:
        existing = (
            StocktakeExpected.objects.filter(stocktake_id=stocktake_id, asset_id=asset_id)
            .values_list("pk", flat=True)
            .first()
        )
        return existing, ScanResult.DUPLICATE
    return line.pk, ScanResult.UNEXPECTED


# --- Holder confirmation by the counter -------------------------------------------------------


@transaction.atomic
def stocktake_confirm_holder(
    *, actor, stocktake_id: int, line_id: int, holder
) -> StocktakeExpected:
    """The counter says who really uses a found asset: the line keeps a location mismatch,
    otherwise becomes ``holder_mismatch`` (or ``found`` when it is the expected holder)."""
    if not StocktakeCounter.objects.filter(stocktake_id=stocktake_id, user=actor).exists():
        raise PermissionDenied(_("You are not a counter of this stocktake."))
    status, kind = _status_shared(stocktake_id) or (None, None)
    _refuse_not_counting(status, kind)
    person = _resolve_holder(holder)
    if person is None:
        raise ScanRefused(_("Unknown person."), code="holder")
    line = (
        StocktakeExpected.objects.select_for_update()
        .filter(stocktake_id=stocktake_id, pk=line_id)
        .first()
    )
    if line is None:
        raise StocktakeExpected.DoesNotExist
    if line.result not in (*FOUND_RESULTS, Line.UNEXPECTED):
        raise ScanRefused(_("Scan the asset before confirming its holder."), code="not_found")
    line.observed_holder = person
    if line.result in (Line.FOUND, Line.HOLDER_MISMATCH):
        line.result = Line.FOUND if person.pk == line.expected_holder_id else Line.HOLDER_MISMATCH
    line.save(update_fields=["observed_holder", "result"])
    return line
