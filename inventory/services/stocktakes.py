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
    SCAN_CODE_MAX_LENGTH,
    CountLine,
    Stocktake,
    StocktakeCounter,
    StocktakeExpected,
    StocktakeScan,
)
from .common import user_manages_warehouse

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
        return str(ScanResult(self.result).label)

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


def _require_manage(actor, kind: str) -> None:
    if actor is not None and not may_manage(actor, kind):
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
    _require_manage(actor, stocktake.kind)
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
    _require_manage(actor, stocktake.kind)
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
    _require_manage(actor, stocktake.kind)
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
    _require_manage(actor, stocktake.kind)
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
    if any(unicodedata.category(ch)[0] == "C" for ch in code):
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
    qs = Stocktake.objects.filter(pk=stocktake_id).order_by().values_list("status", "kind")
    if connection.vendor == "mysql":
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} LOCK IN SHARE MODE", params)
            return cursor.fetchone()
    return qs.first()  # SQLite: writers are serialised anyway


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


def scan_location_check(*, stocktake_id: int, user, location_id) -> tuple[int, str, str]:
    """(id, path, full name) of the location a counter scans at, after checking the counter is
    assigned to the stocktake and the location lies in its scope and the counter's area."""
    assigned = list(
        StocktakeCounter.objects.filter(stocktake_id=stocktake_id, user=user)
        .order_by()
        .values_list("location__path", flat=True)
    )
    if not assigned:
        raise PermissionDenied(_("You are not a counter of this stocktake."))
    try:
        location_id = int(location_id)
    except (TypeError, ValueError):
        raise ScanRefused(_("Choose the location you are counting."), code="location") from None
    row = Location.objects.filter(pk=location_id).values_list("path", "full_name")[:1]
    row = row[0] if row else None
    if row is None:
        raise ScanRefused(_("Choose the location you are counting."), code="location")
    path, full_name = row
    scope = list(
        Stocktake.locations.through.objects.filter(stocktake_id=stocktake_id).values_list(
            "location__path", flat=True
        )
    )
    if scope and not _within(path, scope):
        raise ScanRefused(
            _("%(location)s is outside this stocktake's scope.") % {"location": full_name},
            code="location_scope",
        )
    if None not in assigned and not _within(path, assigned):
        raise ScanRefused(
            _("You are assigned to count elsewhere, not at %(location)s.")
            % {"location": full_name},
            code="location_counter",
        )
    return location_id, path, full_name


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
    person = Person.objects.filter(pk=value).first() if str(value).isdigit() else None
    person = person or Person.objects.filter(employee_no=str(value).strip()).first()
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
    try:
        with transaction.atomic():
            return _scan(
                actor=actor,
                stocktake_id=stocktake_id,
                scan_id=scan_uuid,
                code=code,
                location_id=location_id,
                holder=person,
                note=note,
                photo=photo,
            )
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


def _scan(*, actor, stocktake_id, scan_id, code, location_id, holder, note, photo):
    status, kind = _status_shared(stocktake_id) or (None, None)
    _refuse_not_counting(status, kind)
    location_id, location_path, _name = scan_location_check(
        stocktake_id=stocktake_id, user=actor, location_id=location_id
    )
    now = timezone.now()
    line = (
        StocktakeExpected.objects.filter(stocktake_id=stocktake_id, tag=code)
        .values(
            "id",
            "result",
            "asset_id",
            "asset__name",
            "expected_holder_id",
            "expected_location__path",
            "expected_location__full_name",
            "expected_holder__name",
        )
        .first()
    )
    outcome = ScanOutcome(result=ScanResult.UNKNOWN, tag=code)
    asset_id = None
    if line is not None:
        asset_id = line["asset_id"]
        outcome.tag = code
        outcome.name = line["asset__name"]
        outcome.expected_location = line["expected_location__full_name"] or ""
        outcome.expected_holder = line["expected_holder__name"] or ""
        outcome.line_id = line["id"]
        if line["result"] == Line.PENDING:
            if not _same_place(location_path, line["expected_location__path"]):
                result = Line.LOCATION_MISMATCH
            elif holder is not None and holder.pk != line["expected_holder_id"]:
                result = Line.HOLDER_MISMATCH
            else:
                result = Line.FOUND
            updated = StocktakeExpected.objects.filter(pk=line["id"], result=Line.PENDING).update(
                result=result,
                method=StocktakeExpected.Method.SCAN,
                found_location_id=location_id,
                observed_holder=holder,
                found_at=now,
                found_by=actor,
            )
            outcome.result = result if updated else ScanResult.DUPLICATE
        else:
            outcome.result = ScanResult.DUPLICATE
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
    if photo:
        scan.photo.save(photo.name or "photo.jpg", photo, save=False)
    scan.save(force_insert=True)
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
    status, kind = _status_shared(stocktake_id) or (None, None)
    _refuse_not_counting(status, kind)
    if not StocktakeCounter.objects.filter(stocktake_id=stocktake_id, user=actor).exists():
        raise PermissionDenied(_("You are not a counter of this stocktake."))
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
