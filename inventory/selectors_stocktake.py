"""Reads of stocktakes (盘点): who sees which, lists, progress per location, the assets not yet
found, the locations a counter may pick, a counter's recent scans, totals per result.

Visibility (applied here, never in views): administrators, clerks and auditors see every
stocktake; keepers the consumable ones and those they count; anyone else only the
stocktakes they are assigned to count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from assets.models import Location
from itassets.roles import ADMIN, AUDITOR, CLERK, KEEPER, has_role

from .models_stocktake import Stocktake, StocktakeCounter, StocktakeExpected, StocktakeScan

Line = StocktakeExpected.Result
FOUND_RESULTS = (Line.FOUND, Line.LOCATION_MISMATCH, Line.HOLDER_MISMATCH)
NOT_FOUND_RESULTS = (Line.PENDING, Line.MISSING)
NOT_FOUND_LIMIT = 200
MAX_SCAN_LOCATIONS = 2000


def _sees_all(user) -> bool:
    return user.is_superuser or has_role(user, ADMIN, CLERK, AUDITOR)


def stocktake_list(*, user, filters: dict | None = None) -> QuerySet[Stocktake]:
    """The stocktakes ``user`` may see, newest first; ``filters``: status, kind, q (name)."""
    filters = filters or {}
    qs = Stocktake.objects.select_related("created_by")
    if not _sees_all(user):
        assigned = Q(pk__in=StocktakeCounter.objects.filter(user=user).values("stocktake_id"))
        if has_role(user, KEEPER):
            assigned |= Q(kind=Stocktake.Kind.CONSUMABLE)
        qs = qs.filter(assigned)
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("q"):
        qs = qs.filter(name__icontains=filters["q"])
    return qs.order_by("-id")


def stocktake_get(*, user, pk: int) -> Stocktake:
    """One stocktake ``user`` may see (``Stocktake.DoesNotExist`` otherwise)."""
    return stocktake_list(user=user).get(pk=pk)


def found_counts(stocktake_ids: list[int]) -> dict[int, int]:
    """Assets found so far per stocktake (for a page of the list: one query)."""
    rows = (
        StocktakeExpected.objects.filter(stocktake_id__in=stocktake_ids, result__in=FOUND_RESULTS)
        .values("stocktake_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {r["stocktake_id"]: r["n"] for r in rows}


def is_counter(*, stocktake: Stocktake, user) -> bool:
    return StocktakeCounter.objects.filter(stocktake=stocktake, user=user).exists()


def stocktakes_to_count(*, user) -> QuerySet[Stocktake]:
    """Counting asset stocktakes ``user`` is assigned to (the counter's way in)."""
    return Stocktake.objects.filter(
        status=Stocktake.Status.COUNTING,
        kind=Stocktake.Kind.ASSET,
        pk__in=StocktakeCounter.objects.filter(user=user).values("stocktake_id"),
    ).order_by("-id")


@dataclass
class ScopeSummary:
    locations: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    item_categories: list[str] = field(default_factory=list)
    counters: list[tuple[str, str]] = field(default_factory=list)  # (user, location or "")

    @property
    def everything(self) -> bool:
        return not (self.locations or self.departments or self.categories or self.warehouses)


def stocktake_scope(*, stocktake: Stocktake) -> ScopeSummary:
    """Names of the scope's nodes and the counters (six small queries, whatever the size)."""
    summary = ScopeSummary(
        locations=[str(x) for x in stocktake.locations.order_by("path")],
        departments=[str(x) for x in stocktake.departments.order_by("path")],
        categories=[str(x) for x in stocktake.categories.order_by("path")],
        warehouses=[str(x) for x in stocktake.warehouses.all()],
        item_categories=[str(x) for x in stocktake.item_categories.order_by("path")],
    )
    for counter in stocktake.counters.select_related("user", "location").order_by("id"):
        name = counter.user.get_full_name() or counter.user.get_username()
        summary.counters.append((name, str(counter.location) if counter.location else ""))
    return summary


@dataclass
class LocationProgress:
    location_id: int | None
    name: str
    expected: int
    found: int

    @property
    def missing(self) -> int:
        return self.expected - self.found

    @property
    def percent(self) -> int:
        return round(100 * self.found / self.expected) if self.expected else 100


@dataclass
class Progress:
    rows: list[LocationProgress]
    expected: int
    found: int
    location_mismatch: int
    holder_mismatch: int
    unexpected: int
    unknown: int
    scans: int

    @property
    def missing(self) -> int:
        return self.expected - self.found

    @property
    def percent(self) -> int:
        return round(100 * self.found / self.expected) if self.expected else 100


def stocktake_progress(*, stocktake: Stocktake) -> Progress:
    """Expected / found / missing so far per expected location, and totals: one grouped query
    over the (stocktake, expected location, result) index plus one over the scans."""
    rows = (
        StocktakeExpected.objects.filter(stocktake=stocktake)
        .values("expected_location_id", "result")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_location: dict[int | None, list[int]] = {}
    by_result: dict[str, int] = {}
    for row in rows:
        result, n = row["result"], row["n"]
        by_result[result] = by_result.get(result, 0) + n
        if result == Line.UNEXPECTED:
            continue
        counts = per_location.setdefault(row["expected_location_id"], [0, 0])
        counts[0] += n
        if result in FOUND_RESULTS:
            counts[1] += n
    names = dict(
        Location.objects.filter(pk__in=[k for k in per_location if k]).values_list(
            "pk", "full_name"
        )
    )
    progress_rows = [
        LocationProgress(pk, names.get(pk, "—") if pk else "", expected, found)
        for pk, (expected, found) in per_location.items()
    ]
    progress_rows.sort(key=lambda r: (r.location_id is None, r.name))
    scans = StocktakeScan.objects.filter(stocktake=stocktake).aggregate(
        total=Count("id"),
        unknown=Count("raw_code", filter=Q(result=StocktakeScan.Result.UNKNOWN), distinct=True),
    )
    return Progress(
        rows=progress_rows,
        expected=sum(r.expected for r in progress_rows),
        found=sum(r.found for r in progress_rows),
        location_mismatch=by_result.get(Line.LOCATION_MISMATCH, 0),
        holder_mismatch=by_result.get(Line.HOLDER_MISMATCH, 0),
        unexpected=by_result.get(Line.UNEXPECTED, 0),
        unknown=scans["unknown"],
        scans=scans["total"],
    )


def stocktake_not_found(
    *, stocktake: Stocktake, location_id: int | None, limit: int = NOT_FOUND_LIMIT
) -> list[StocktakeExpected]:
    """Assets of one expected location not found yet (or missing, once closed), by tag, to
    guide the search. ``location_id`` None: the assets without a location."""
    qs = StocktakeExpected.objects.filter(stocktake=stocktake, result__in=NOT_FOUND_RESULTS)
    if location_id is None:
        qs = qs.filter(expected_location__isnull=True)
    else:
        qs = qs.filter(expected_location_id=location_id)
    return list(
        qs.select_related("asset", "expected_holder", "expected_department").order_by("tag")[:limit]
    )


def scan_locations(*, stocktake: Stocktake, user) -> list[tuple[int, str]]:
    """(id, full name) of the locations ``user`` may scan at: the scope's location subtrees
    (every location when the scope names none), narrowed to the counter's assigned area."""
    areas = list(
        StocktakeCounter.objects.filter(stocktake=stocktake, user=user)
        .order_by()
        .values_list("location__path", flat=True)
    )
    if not areas:
        return []
    qs = Location.objects.filter(is_active=True)
    scope = list(stocktake.locations.values_list("path", flat=True))
    for paths in (scope, [] if None in areas else areas):
        if paths:
            q = Q()
            for path in paths:
                q |= Q(path__startswith=path)
            qs = qs.filter(q)
    return list(qs.order_by("path").values_list("pk", "full_name")[:MAX_SCAN_LOCATIONS])


def recent_scans(*, stocktake: Stocktake, user, limit: int = 20) -> list[StocktakeScan]:
    """The counter's latest scans, newest first."""
    return list(
        StocktakeScan.objects.filter(stocktake=stocktake, counter=user)
        .select_related("asset")
        .order_by("-id")[:limit]
    )


@dataclass
class ResultTotal:
    result: str
    label: str
    count: int
    value: Decimal


def stocktake_result_totals(*, stocktake: Stocktake) -> list[ResultTotal]:
    """Count and cost value of the lines per result (one grouped query)."""
    rows = {
        r["result"]: r
        for r in StocktakeExpected.objects.filter(stocktake=stocktake)
        .values("result")
        .annotate(n=Count("id"), value=Sum("cost"))
        .order_by()
    }
    return [
        ResultTotal(
            result,
            str(label),
            rows.get(result, {}).get("n", 0),
            rows.get(result, {}).get("value") or Decimal("0"),
        )
        for result, label in Line.choices
    ]
