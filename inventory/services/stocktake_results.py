"""The closing report of an asset stocktake and applying its results to the register.

Report (a read: ``stocktake_report`` and the ``report_*`` querysets)
    Counts and values (the cost frozen on each line) per result come from one ``GROUP BY``
    over the stocktake's lines (index ``stocktake, result, tag``), the unknown codes from one
    more over its scans, the per-location table from a third: a constant number of queries
    whatever the size (20,000 lines in well under a second). The pages, the Excel export and
    the PDF read the lines of a section with their relations in one query each.

Apply (``stocktake_apply``, once, by a manager of asset stocktakes)
    Every line that needs an action gets one, through the assets services, so each change is
    an approval request or a lifecycle event like any other:

    - missing (盘亏) → ``report_lost``, which goes through approval (``approval_request``);
    - location or holder differs → ``transfer`` to the place (and person) observed;
    - unexpected (盘盈, a known asset off the list) → ``transfer`` to where it was found
      (into the scope), or ``found`` when the register has it as lost;
    - found as expected, or confirmed by its holder → nothing.

    A line whose asset can no longer take the action (its state does not allow it, another
    approval is pending, it was moved after the stocktake started, the register already
    shows what was observed) is *skipped* with the reason, and the others go on. Each line
    is applied in its own transaction and claimed under its row lock, so an interrupted or
    replayed apply (or two at once) acts on every line exactly once; the outcome is stored on
    the line (``applied_action``, ``apply_note``, ``applied_approval``) and shown in the
    report. When every line is done the stocktake becomes "applied"; applying again is a
    no-op that returns the same outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assets.lifecycle import Status as AssetStatus
from assets.models import Asset, Category, Department, Location
from assets.services.approvals import approval_request
from assets.services.lifecycle import asset_transition

from ..models_stocktake import Stocktake, StocktakeExpected, StocktakeScan
from .stocktakes import may_manage

Kind = Stocktake.Kind
State = Stocktake.Status
Result = StocktakeExpected.Result
ZERO = Decimal("0")
FOUND_RESULTS = (Result.FOUND, Result.LOCATION_MISMATCH, Result.HOLDER_MISMATCH)
UNKNOWN = "unknown"

# The report's sections, in the order shown: discrepancies first.
SECTIONS = (
    Result.MISSING,
    Result.LOCATION_MISMATCH,
    Result.HOLDER_MISMATCH,
    Result.UNEXPECTED,
    UNKNOWN,
    Result.FOUND,
)
SECTION_LABELS = {
    Result.MISSING: gettext_lazy("Missing (loss)"),
    Result.LOCATION_MISMATCH: gettext_lazy("Location differs"),
    Result.HOLDER_MISMATCH: gettext_lazy("Holder differs"),
    Result.UNEXPECTED: gettext_lazy("Unexpected (surplus, in the register)"),
    UNKNOWN: gettext_lazy("Unknown codes (surplus, not in the register)"),
    Result.FOUND: gettext_lazy("Found as expected"),
}
SECTION_BADGE = {**StocktakeExpected.RESULT_BADGE, UNKNOWN: "danger"}
LINE_RELATIONS = (
    "asset",
    "asset__category",
    "expected_location",
    "expected_holder",
    "expected_department",
    "found_location",
    "observed_holder",
    "found_by",
)

# What applying did for a line (StocktakeExpected.applied_action).
APPLIED_LOST = "report_lost"
APPLIED_TRANSFER = "transfer"
APPLIED_FOUND = "found"
APPLIED_SKIPPED = "skipped"
APPLIED_LABELS = {
    APPLIED_LOST: gettext_lazy("Loss report sent for approval"),
    APPLIED_TRANSFER: gettext_lazy("Transferred"),
    APPLIED_FOUND: gettext_lazy("Back in stock (was lost)"),
    APPLIED_SKIPPED: gettext_lazy("Skipped"),
}
APPLIED_BADGE = {
    APPLIED_LOST: "warning",
    APPLIED_TRANSFER: "success",
    APPLIED_FOUND: "success",
    APPLIED_SKIPPED: "secondary",
}
# The lines applying acts on.
ACTION_RESULTS = (
    Result.MISSING,
    Result.LOCATION_MISMATCH,
    Result.HOLDER_MISMATCH,
    Result.UNEXPECTED,
)


# --- Report -----------------------------------------------------------------------------------


@dataclass
class ReportSection:
    key: str
    count: int = 0
    value: Decimal = ZERO

    @property
    def label(self) -> str:
        return str(SECTION_LABELS[self.key])

    @property
    def badge(self) -> str:
        return SECTION_BADGE.get(self.key, "secondary")

    @property
    def is_lines(self) -> bool:
        """Lines of the register (every section but the unknown codes)."""
        return self.key != UNKNOWN


@dataclass
class StocktakeReport:
    """The figures of a stocktake's report; the lines are read per section."""

    stocktake: Stocktake
    sections: list[ReportSection]
    expected: int  # on the frozen list
    expected_value: Decimal
    found: int  # of the expected, found (in place or not)
    found_value: Decimal
    self_confirmed: int
    by_location: list[dict]
    scope: dict[str, list[str]]
    outcomes: dict[str, int] = field(default_factory=dict)

    def section(self, key: str) -> ReportSection:
        return next(s for s in self.sections if s.key == key)

    @property
    def discrepancies(self) -> int:
        return sum(s.count for s in self.sections if s.key != Result.FOUND)

    @property
    def found_percent(self) -> int:
        return round(100 * self.found / self.expected) if self.expected else 100

    @property
    def applied_count(self) -> int:
        return sum(self.outcomes.values())


def report_available(stocktake: Stocktake) -> bool:
    return stocktake.kind == Kind.ASSET and stocktake.status in (State.CLOSED, State.APPLIED)


def _scope_names(stocktake: Stocktake) -> dict[str, list[str]]:
    """The scope's nodes by name (three small queries)."""
    return {
        "locations": list(
            Location.objects.filter(pk__in=stocktake.locations.values("pk"))
            .order_by("path")
            .values_list("full_name", flat=True)
        ),
        "departments": list(
            Department.objects.filter(pk__in=stocktake.departments.values("pk"))
            .order_by("path")
            .values_list("full_name", flat=True)
        ),
        "categories": list(
            Category.objects.filter(pk__in=stocktake.categories.values("pk"))
            .order_by("path")
            .values_list("full_name", flat=True)
        ),
    }


def stocktake_report(*, stocktake: Stocktake, scope: bool = True) -> StocktakeReport:
    """Counts and values per result, the unknown codes, the table per expected location and
    (once applied) the outcomes: four queries, three more for the scope's names and one
    more once applied, whatever the number of lines."""
    lines = StocktakeExpected.objects.filter(stocktake=stocktake).order_by()
    totals = {
        row["result"]: row
        for row in lines.values("result").annotate(
            n=Count("id"),
            value=Sum("cost"),
            self_confirmed=Count("id", filter=Q(method=StocktakeExpected.Method.SELF)),
        )
    }
    unknown = (
        StocktakeScan.objects.filter(stocktake=stocktake, result=StocktakeScan.Result.UNKNOWN)
        .order_by()
        .aggregate(n=Count("raw_code", distinct=True))["n"]
    )
    sections = []
    for key in SECTIONS:
        if key == UNKNOWN:
            sections.append(ReportSection(key, unknown or 0, ZERO))
            continue
        row = totals.get(key, {})
        sections.append(ReportSection(key, row.get("n", 0), row.get("value") or ZERO))
    listed = [s for s in sections if s.key in (*FOUND_RESULTS, Result.MISSING)]
    found = [s for s in sections if s.key in FOUND_RESULTS]
    by_location = list(
        lines.exclude(result=Result.UNEXPECTED)
        .values("expected_location_id")
        .annotate(
            expected=Count("id"),
            found=Count("id", filter=Q(result__in=FOUND_RESULTS)),
            missing=Count("id", filter=Q(result=Result.MISSING)),
            missing_value=Sum("cost", filter=Q(result=Result.MISSING)),
        )
    )
    names = dict(
        Location.objects.filter(
            pk__in=[row["expected_location_id"] for row in by_location]
        ).values_list("pk", "full_name")
    )
    for row in by_location:
        row["expected_location__full_name"] = names.get(row["expected_location_id"], "")
    by_location.sort(
        key=lambda row: (
            row["expected_location__full_name"] == "",
            row["expected_location__full_name"],
        )
    )
    outcomes = {}
    if stocktake.status == State.APPLIED or stocktake.applied_at is not None:
        outcomes = dict(
            lines.exclude(applied_action="")
            .values("applied_action")
            .annotate(n=Count("id"))
            .values_list("applied_action", "n")
        )
    return StocktakeReport(
        stocktake=stocktake,
        sections=sections,
        expected=sum(s.count for s in listed),
        expected_value=sum((s.value for s in listed), ZERO),
        found=sum(s.count for s in found),
        found_value=sum((s.value for s in found), ZERO),
        self_confirmed=sum(row.get("self_confirmed", 0) for row in totals.values()),
        by_location=by_location,
        scope=_scope_names(stocktake) if scope else {},
        outcomes=outcomes,
    )


def report_lines(*, stocktake: Stocktake, section: str) -> QuerySet[StocktakeExpected]:
    """The lines of one section with everything the report shows, in tag order."""
    if section not in SECTIONS or section == UNKNOWN:
        raise ValueError(f"not a line section: {section!r}")
    return (
        StocktakeExpected.objects.filter(stocktake=stocktake, result=section)
        .select_related(*LINE_RELATIONS)
        .order_by("tag")
    )


# The columns of the exports (values only, no model instances: a fifth of the time).
LINE_COLUMNS = (
    "tag",
    "asset__name",
    "asset__category__name",
    "expected_status",
    "expected_location__full_name",
    "expected_holder__name",
    "expected_holder__employee_no",
    "expected_department__full_name",
    "cost",
    "found_location__full_name",
    "observed_holder__name",
    "observed_holder__employee_no",
    "method",
    "found_at",
    "found_by__username",
    "found_by__last_name",
    "found_by__first_name",
    "applied_action",
    "apply_note",
)


def report_line_values(*, stocktake: Stocktake, section: str, chunk: int = 2000):
    """Every line of a section as a dict of ``LINE_COLUMNS``, in tag order, streamed."""
    if section not in SECTIONS or section == UNKNOWN:
        raise ValueError(f"not a line section: {section!r}")
    return (
        StocktakeExpected.objects.filter(stocktake=stocktake, result=section)
        .order_by("tag")
        .values(*LINE_COLUMNS)
        .iterator(chunk_size=chunk)
    )


def person_label(name, number) -> str:
    """As ``Person.__str__`` (张三（E00012）), from values."""
    return f"{name}（{number}）" if name else ""


def report_lines_page(
    *, stocktake: Stocktake, section: str, offset: int, limit: int
) -> list[StocktakeExpected]:
    """One page of a section's lines (pages): the page's ids are read from the index
    (stocktake, result, tag) alone, then those rows with their relations. One join query
    with LIMIT lets MariaDB start from a small related table and sort every line of the
    stocktake first (150 ms at 20,000 lines instead of a few)."""
    ids = list(
        StocktakeExpected.objects.filter(stocktake=stocktake, result=section)
        .order_by("tag")
        .values_list("pk", flat=True)[offset : offset + limit]
    )
    if not ids:
        return []
    return list(
        StocktakeExpected.objects.filter(pk__in=ids)
        .select_related(*(r for r in LINE_RELATIONS if r != "asset__category"))
        .order_by("tag")
    )


def report_unknown_codes(*, stocktake: Stocktake) -> QuerySet:
    """Codes scanned that are not in the register, once each: how often (its repeats are
    recorded as duplicates without an asset), when first, where (the first location's
    name), and the last note given."""
    scans = StocktakeScan.Result
    return (
        StocktakeScan.objects.filter(stocktake=stocktake)
        .filter(
            Q(result=scans.UNKNOWN)
            | Q(result=scans.DUPLICATE, asset__isnull=True, line__isnull=True)
        )
        .values("raw_code")
        .annotate(
            times=Count("id"),
            first_at=Min("created_at"),
            location=Min("location__full_name"),
            note=Max("note"),
            photo=Max("photo"),
        )
        .order_by("raw_code")
    )


def outcome_label(line: StocktakeExpected) -> str:
    return str(APPLIED_LABELS.get(line.applied_action, line.applied_action))


def outcome_badge(line: StocktakeExpected) -> str:
    return APPLIED_BADGE.get(line.applied_action, "secondary")


# --- Apply ------------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    stocktake: Stocktake
    outcomes: dict[str, int]
    replayed: bool = False

    @property
    def message(self) -> str:
        if self.replayed:
            return _("The results of this stocktake were already applied; nothing was changed.")
        return _(
            "Results applied: %(lost)s loss report(s) sent for approval, %(moved)s asset(s) "
            "transferred or back in stock, %(skipped)s skipped."
        ) % {
            "lost": self.outcomes.get(APPLIED_LOST, 0),
            "moved": self.outcomes.get(APPLIED_TRANSFER, 0) + self.outcomes.get(APPLIED_FOUND, 0),
            "skipped": self.outcomes.get(APPLIED_SKIPPED, 0),
        }


class _Skip(Exception):
    """A line applying leaves alone, with the reason."""


def _outcomes(stocktake: Stocktake) -> dict[str, int]:
    return dict(
        StocktakeExpected.objects.filter(stocktake=stocktake)
        .exclude(applied_action="")
        .order_by()
        .values("applied_action")
        .annotate(n=Count("id"))
        .values_list("applied_action", "n")
    )


def _require_apply(actor) -> None:
    if actor is None or not may_manage(actor, Kind.ASSET):
        raise PermissionDenied(_("You are not allowed to apply the results of stocktakes."))


def stocktake_apply(*, stocktake: Stocktake, actor) -> ApplyResult:
    """Apply a closed asset stocktake's results to the register (see the module docstring).
    Raises PermissionDenied (not a manager) or ValidationError (not closed, not assets)."""
    _require_apply(actor)
    with transaction.atomic():
        locked = Stocktake.objects.select_for_update().get(pk=stocktake.pk)
        if locked.kind != Kind.ASSET:
            raise ValidationError(
                _(
                    "Only asset stocktakes have results to apply; consumable counts are posted "
                    "when they close."
                ),
                code="kind",
            )
        if locked.status == State.APPLIED:
            return ApplyResult(stocktake=locked, outcomes=_outcomes(locked), replayed=True)
        if locked.status != State.CLOSED:
            raise ValidationError(
                _("Close the stocktake before applying its results."), code="not_closed"
            )
    pending = list(
        StocktakeExpected.objects.filter(
            stocktake=locked, result__in=ACTION_RESULTS, applied_action=""
        )
        .order_by("tag")
        .values_list("pk", flat=True)
    )
    for line_id in pending:
        _apply_one(line_id, stocktake=locked, actor=actor)
    with transaction.atomic():
        now = timezone.now()
        Stocktake.objects.filter(pk=locked.pk, status=State.CLOSED).update(
            status=State.APPLIED, applied_at=now, applied_by=actor
        )
        locked.refresh_from_db(fields=["status", "applied_at", "applied_by"])
    stocktake.status, stocktake.applied_at = locked.status, locked.applied_at
    stocktake.applied_by_id = locked.applied_by_id
    return ApplyResult(stocktake=locked, outcomes=_outcomes(locked))


def _apply_one(line_id: int, *, stocktake: Stocktake, actor) -> None:
    """Claim one line under its row lock and act on it; a refusal is recorded as skipped."""
    with transaction.atomic():
        line = (
            StocktakeExpected.objects.select_for_update()
            .filter(pk=line_id, applied_action="")
            .first()
        )
        if line is None:  # applied meanwhile by a concurrent apply
            return
        approval = None
        try:
            with transaction.atomic():
                action, note, approval = _act(line, stocktake=stocktake, actor=actor)
        except _Skip as exc:
            action, note = APPLIED_SKIPPED, str(exc)
        except (ValidationError, PermissionDenied) as exc:
            messages = getattr(exc, "messages", None) or [str(exc)]
            text = " ".join(str(m) for m in messages if m) or _("Not allowed.")
            action, note = APPLIED_SKIPPED, text
        line.applied_action = action
        line.apply_note = note[:500]
        line.applied_at = timezone.now()
        line.applied_approval = approval
        line.save(update_fields=["applied_action", "apply_note", "applied_at", "applied_approval"])


def _act(line: StocktakeExpected, *, stocktake: Stocktake, actor):
    """(action, note, approval) for one line; raises _Skip, ValidationError or
    PermissionDenied when the asset cannot take the action."""
    asset = Asset.objects.select_related("holder", "department", "location").get(pk=line.asset_id)
    reason = _("Stocktake “%(name)s”") % {"name": stocktake.name}
    if line.result == Result.MISSING:
        approval = approval_request(
            asset=asset,
            transition="report_lost",
            actor=actor,
            reason=_("Missing in stocktake “%(name)s”.") % {"name": stocktake.name},
        )
        return APPLIED_LOST, "", approval

    location = line.found_location or asset.location
    if asset.status == AssetStatus.LOST:
        # Reported lost, yet counted: back in stock where it was found.
        asset_transition(
            asset=asset,
            transition="found",
            actor=actor,
            note=reason,
            data={"location": location},
        )
        return APPLIED_FOUND, "", None

    holder = asset.holder
    if line.result == Result.HOLDER_MISMATCH:
        if line.observed_holder is None:
            raise _Skip(_("The actual holder was not recorded."))
        holder = line.observed_holder
    if holder == asset.holder and location == asset.location:
        raise _Skip(_("The register already shows the place and holder observed."))
    if line.result != Result.UNEXPECTED and (
        asset.location_id != line.expected_location_id or asset.holder_id != line.expected_holder_id
    ):
        raise _Skip(_("The asset was moved after the stocktake started; check it by hand."))
    if asset.status == AssetStatus.IN_STOCK:
        # Idle in the register: found with someone → assigned to them; found elsewhere →
        # moved there (the ``relocate`` transition keeps it in stock).
        if holder is not None and holder != asset.holder:
            asset_transition(
                asset=asset,
                transition="assign",
                actor=actor,
                note=reason,
                data={"holder": holder, "location": location},
            )
        else:
            asset_transition(
                asset=asset,
                transition="relocate",
                actor=actor,
                note=reason,
                data={"location": location},
            )
        return APPLIED_TRANSFER, "", None
    department = asset.department if holder == asset.holder else None
    asset_transition(
        asset=asset,
        transition="transfer",
        actor=actor,
        note=reason,
        data={"holder": holder, "department": department, "location": location},
    )
    return APPLIED_TRANSFER, "", None
