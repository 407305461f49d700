"""Reads for reports: the monthly depreciation report (折旧明细表).

The figures of each asset are computed in Python (``assets.depreciation``) from ``values()``
rows, never per row from the database. One report costs a fixed number of queries whatever the
number of assets:

1. the category and department trees (filter choices, "incl. children" filters, names),
2. one narrow pass over every asset in the report (ids, department, cost, dates, life, rate,
   method: read in chunks) that yields the totals, the per-department subtotals and the order,
3. the display columns of the current page's assets only (the deferred join).

The export reads the display columns of every asset in chunks in one query and computes each
row as it is written. Cost: the narrow pass and ``as_of`` take about 40 µs per asset (20,000
assets: under a second per page), less when many assets share a purchase batch (computed once).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from django.db.models import CharField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from .depreciation import ZERO, Position, add_months, as_of
from .lifecycle import Status
from .models import Asset, Category, Department
from .selectors import asset_queryset

REPORT_PER_PAGE = 50
ITERATOR_CHUNK = 2000
# What one asset's figures need (the effective life and rate: the asset's own or its category's).
FIGURE_FIELDS = ("cost", "purchase_date", "disposed_on", "life", "rate", "method")
DISPLAY_FIELDS = ("id", "tag", "name", "category_name", "department_name", "department_id")


class TreeNode(NamedTuple):
    id: int
    path: str
    depth: int
    name: str
    full_name: str


@dataclass
class ReportTrees:
    """The category and department trees in path (display) order: the filters' choices,
    "incl. children" filters and department names, from one query."""

    nodes: dict[str, list[TreeNode]]

    def subtree_ids(self, kind: str, node_id: int) -> list[int]:
        node = next((r for r in self.nodes[kind] if r.id == node_id), None)
        if node is None:
            return []
        return [r.id for r in self.nodes[kind] if r.path.startswith(node.path)]

    def choices(self, kind: str) -> list[tuple[int, str]]:
        indent = "\u00a0\u00a0"
        return [(r.id, f"{indent * (r.depth - 1)}{r.name}") for r in self.nodes[kind]]

    def department_name(self, department_id: int | None) -> str:
        if department_id is None:
            return ""
        return self._department_names.get(department_id, "")

    @cached_property
    def _department_names(self) -> dict[int, str]:
        return {r.id: r.full_name for r in self.nodes["department"]}

    def department_order(self) -> dict[int, str]:
        return {r.id: r.path for r in self.nodes["department"]}


def report_trees() -> ReportTrees:
    """The category and department trees (one query)."""
    parts = [
        model.objects.order_by()
        .annotate(tree=Value(kind, output_field=CharField()))
        .values_list("id", "path", "depth", "name", "full_name", "tree")
        for kind, model in (("category", Category), ("department", Department))
    ]
    nodes: dict[str, list[TreeNode]] = {"category": [], "department": []}
    for pk, path, depth, name, full_name, kind in parts[0].union(parts[1], all=True):
        nodes[kind].append(TreeNode(pk, path, depth, name, full_name))
    for rows in nodes.values():
        rows.sort(key=lambda r: r.path)
    return ReportTrees(nodes)


def _with_figure_fields(queryset: QuerySet[Asset]) -> QuerySet[Asset]:
    return queryset.annotate(
        life=Coalesce("useful_life_months", "category__useful_life_months"),
        rate=Coalesce("residual_rate", "category__residual_rate"),
        method=F("category__depreciation_method"),
    )


def depreciation_queryset(
    *, user, month: date, filters: Mapping, trees: ReportTrees
) -> QuerySet[Asset]:
    """The assets on the books at the end of ``month``: a cost and a purchase date on or before
    the month's last day, not disposed of before the month (the disposal month is reported), in
    the user's data scope, filtered by department and category (each with its children)."""
    month_start = month.replace(day=1)
    next_month = add_months(month_start, 1)
    qs = (
        asset_queryset(user=user)
        .filter(cost__isnull=False, purchase_date__lt=next_month)
        .filter(Q(disposed_on__isnull=True) | Q(disposed_on__gte=month_start))
        # Disposed before disposal dates were recorded: not on the books, date unknown.
        .exclude(status=Status.DISPOSED, disposed_on__isnull=True)
    )
    for kind in ("department", "category"):
        node_id = filters.get(kind)
        if node_id:
            qs = qs.filter(**{f"{kind}_id__in": trees.subtree_ids(kind, int(node_id))})
    return _with_figure_fields(qs).order_by()


def figures(row: Mapping, month: date) -> Position | None:
    """One asset's position at the end of ``month`` from its values() row (None: it cannot be
    depreciated, e.g. no useful life)."""
    if not row["life"]:
        return None
    try:
        return as_of(
            cost=row["cost"],
            acquired=row["purchase_date"],
            life_months=row["life"],
            residual_rate=row["rate"],
            method=row["method"],
            disposed_on=row["disposed_on"],
            month=month,
        )
    except ValueError:  # figures the forms refuse but the database holds
        return None


class FigureCache:
    """``figures`` remembered per distinct input: assets bought in one batch (the same cost,
    date, life, rate and method) are computed once per report."""

    def __init__(self, month: date):
        self.month = month
        self.known: dict[tuple, Position | None] = {}

    def __call__(self, row: Mapping) -> Position | None:
        key = tuple(row[f] for f in FIGURE_FIELDS)
        try:
            return self.known[key]
        except KeyError:
            position = self.known[key] = figures(row, self.month)
            return position


@dataclass
class Totals:
    """Sums over a set of assets."""

    count: int = 0
    cost: Decimal = ZERO
    this_month: Decimal = ZERO
    accumulated: Decimal = ZERO
    net_book_value: Decimal = ZERO

    def add(self, cost: Decimal, position: Position) -> None:
        self.count += 1
        self.cost += cost
        self.this_month += position.this_month
        self.accumulated += position.accumulated
        self.net_book_value += position.net_book_value


@dataclass
class ReportRow:
    id: int
    tag: str
    name: str
    category: str
    department: str
    cost: Decimal
    this_month: Decimal
    accumulated: Decimal
    net_book_value: Decimal


@dataclass
class DepartmentTotals:
    department_id: int | None
    name: str
    totals: Totals


@dataclass
class DepreciationReport:
    """One page of asset rows, with the subtotals and total of the whole selection."""

    month: date
    rows: list[ReportRow]
    departments: list[DepartmentTotals]
    total: Totals
    number: int
    per_page: int

    @property
    def count(self) -> int:
        return self.total.count

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.rows)


def _report_row(row: Mapping, position: Position) -> ReportRow:
    return ReportRow(
        id=row["id"],
        tag=row["tag"],
        name=row["name"],
        category=row["category_name"],
        department=row["department_name"] or "",
        cost=row["cost"],
        this_month=position.this_month,
        accumulated=position.accumulated,
        net_book_value=position.net_book_value,
    )


def _display_values(queryset: QuerySet[Asset]) -> QuerySet:
    return queryset.annotate(
        category_name=F("category__full_name"), department_name=F("department__full_name")
    ).values(*DISPLAY_FIELDS, *FIGURE_FIELDS)


def _department_totals(
    trees: ReportTrees, by_department: dict[int | None, Totals]
) -> list[DepartmentTotals]:
    """Subtotals in department tree order, assets without a department last."""
    order = trees.department_order()
    keys = sorted(by_department, key=lambda d: (d is None, order.get(d, "")))
    return [DepartmentTotals(d, trees.department_name(d), by_department[d]) for d in keys]


def depreciation_report(
    *,
    user,
    month: date,
    filters: Mapping,
    trees: ReportTrees,
    page: int = 1,
    per_page: int = REPORT_PER_PAGE,
) -> DepreciationReport:
    """Rows ordered by department (tree order, none last), then id; ``page`` is clamped."""
    queryset = depreciation_queryset(user=user, month=month, filters=filters, trees=trees)
    total = Totals()
    by_department: dict[int | None, Totals] = {}
    keys: list[tuple[int | None, int]] = []
    compute = FigureCache(month)
    narrow = queryset.values("id", "department_id", *FIGURE_FIELDS)
    for row in narrow.iterator(chunk_size=ITERATOR_CHUNK):
        position = compute(row)
        if position is None:
            continue
        keys.append((row["department_id"], row["id"]))
        total.add(row["cost"], position)
        by_department.setdefault(row["department_id"], Totals()).add(row["cost"], position)
    order = trees.department_order()
    keys.sort(key=lambda k: (k[0] is None, order.get(k[0], ""), k[1]))
    last_page = max(1, -(-len(keys) // per_page))
    page = min(max(1, page), last_page)
    page_ids = [pk for _dept, pk in keys[(page - 1) * per_page : page * per_page]]
    rows: list[ReportRow] = []
    if page_ids:
        wide = _display_values(_with_figure_fields(Asset.objects.filter(id__in=page_ids)))
        by_id = {r["id"]: r for r in wide}
        for pk in page_ids:
            row = by_id.get(pk)  # changed or deleted since the first pass: left out
            position = figures(row, month) if row is not None else None
            if position is not None:
                rows.append(_report_row(row, position))
    return DepreciationReport(
        month=month,
        rows=rows,
        departments=_department_totals(trees, by_department),
        total=total,
        number=page,
        per_page=per_page,
    )


def depreciation_export(
    *, user, month: date, filters: Mapping, trees: ReportTrees
) -> Iterator[tuple[str, object]]:
    """The whole report, read in chunks in one query and computed as it is consumed:
    ``("row", ReportRow)`` in the page order, then ``("department", DepartmentTotals)`` and
    finally ``("total", Totals)``."""
    queryset = depreciation_queryset(user=user, month=month, filters=filters, trees=trees)
    ordered = queryset.order_by(F("department__path").asc(nulls_last=True), "id")
    total = Totals()
    by_department: dict[int | None, Totals] = {}
    compute = FigureCache(month)
    for row in _display_values(ordered).iterator(chunk_size=ITERATOR_CHUNK):
        position = compute(row)
        if position is None:
            continue
        total.add(row["cost"], position)
        by_department.setdefault(row["department_id"], Totals()).add(row["cost"], position)
        yield "row", _report_row(row, position)
    for subtotal in _department_totals(trees, by_department):
        yield "department", subtotal
    yield "total", total
