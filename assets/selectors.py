"""Reads of the register. The user's data scope is applied here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from itassets.roles import Scope, user_scope

from .models import Asset, Category, Department, Location, Person, UserPreference


def person_for(user) -> Person | None:
    """The person a login user is (``Person.user`` is one-to-one). The request's user comes
    with it (``itassets.auth``); any other user object costs one query, cached on it."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.person
    except Person.DoesNotExist:
        return None


def headed_department_ids(person: Person | None) -> list[int]:
    """The departments a person heads, with all their sub-departments."""
    if person is None:
        return []
    heads = list(Department.objects.filter(head=person).values_list("path", flat=True))
    if not heads:
        return []
    q = Q()
    for path in heads:
        q |= Q(path__startswith=path)
    return list(Department.objects.filter(q).values_list("id", flat=True))


def asset_scope_q(user) -> Q | None:
    """A Q limiting assets to what ``user`` may see; None means nothing at all."""
    scope = user_scope(user)
    if scope is None:
        return None
    if scope == Scope.ALL:
        return Q()
    person = person_for(user)
    own = Q(holder=person) if person else Q(pk__in=[])
    if scope in (Scope.DEPARTMENT_TREE, Scope.DEPARTMENT):
        dept_ids = headed_department_ids(person)
        return own | Q(department_id__in=dept_ids) if dept_ids else own
    return own  # OWN, and LOCATION until warehouses have keepers (inventory issue)


def asset_queryset(*, user) -> QuerySet[Asset]:
    """All assets the user may see, with the relations list and detail pages show."""
    q = asset_scope_q(user)
    qs = Asset.objects.all()
    if q is None:
        return qs.none()
    return qs.filter(q)


def asset_get(*, user, tag: str) -> Asset | None:
    """One asset by tag if the user may see it (else None → the view answers 404).

    The tag is unique: no ORDER BY (``first()`` would add one, and matching it against the
    hundred-odd selected columns was a third of the time Django spent building the query)."""
    rows = (
        asset_queryset(user=user)
        .select_related(
            "model",
            "category",
            "manufacturer",
            "department",
            "holder",
            "location",
            "supplier",
            "created_by",
            "updated_by",
        )
        .filter(tag=tag)
        .order_by()[:1]
    )
    return next(iter(rows), None)


# --- The list page ----------------------------------------------------------------------------
# One list page costs a fixed number of queries whatever the page size or depth:
#   1. the three filter trees (one UNION ALL; also used to resolve "incl. children" filters),
#   2. (search only) the exact tag/serial probe,
#   3. the page's ids ordered by a "(col, id)" index with LIMIT/OFFSET, carrying the capped
#      count as an uncorrelated scalar subquery (evaluated once),
#   4. those rows with their relations (the deferred join).

LIST_COUNT_CAP = 10_000
LIST_PER_PAGE_CHOICES = (10, 25, 50, 100)
LIST_DEFAULT_PER_PAGE = 25
LIST_MAX_PAGE = 100_000
# Sort key → the asset's own column. Foreign keys sort by their id column ("category_id"),
# never through the relation: ordering by a related model's name would join and filesort
# the whole table. Each has a "(col, id)" index, scanned backwards for descending sorts.
LIST_SORTS = {
    "tag": "tag",
    "name": "name",
    "status": "status",
    "category": "category_id",
    "department": "department_id",
    "holder": "holder_id",
    "location": "location_id",
    "purchase_date": "purchase_date",
    "cost": "cost",
    "warranty_end": "warranty_end",
    "updated_at": "updated_at",
}
LIST_DEFAULT_ORDER = ("-id",)
# Unique columns sort without the id tie-break: MariaDB does not extend a UNIQUE index with the
# primary key, so "ORDER BY tag, id" would filesort the whole table.
LIST_UNIQUE_SORTS = {"tag"}
TREE_KINDS = ("category", "department", "location")
_TREE_MODELS = {"category": Category, "department": Department, "location": Location}


@dataclass(frozen=True)
class TreeRow:
    id: int
    path: str
    depth: int
    name: str


@dataclass
class FilterTrees:
    """The category, department and location trees, each in path (display) order.

    Loaded on first use unless given: an htmx request for the table alone, with no tree
    filter set, never needs them.
    """

    preloaded: dict[str, list[TreeRow]] | None = None

    @property
    def nodes(self) -> dict[str, list[TreeRow]]:
        if self.preloaded is None:
            self.preloaded = _load_trees()
        return self.preloaded

    def subtree_ids(self, kind: str, node_id: int) -> list[int]:
        """A node and its descendants: one path-prefix match over the loaded tree."""
        rows = self.nodes[kind]
        node = next((r for r in rows if r.id == node_id), None)
        if node is None:
            return []
        return [r.id for r in rows if r.path.startswith(node.path)]

    def choices(self, kind: str) -> list[tuple[int, str]]:
        indent = "\u00a0\u00a0"
        return [(r.id, f"{indent * (r.depth - 1)}{r.name}") for r in self.nodes[kind]]


def _trees_sql() -> str:
    qn = connection.ops.quote_name
    return " UNION ALL ".join(
        f"SELECT '{kind}', id, path, depth, name FROM {qn(_TREE_MODELS[kind]._meta.db_table)}"  # noqa: S608 (constants only)
        for kind in TREE_KINDS
    )


def _load_trees() -> dict[str, list[TreeRow]]:
    """The three trees in one query. Plain SQL on purpose: the ORM's three-part UNION took
    longer to build (0.6 ms) than the database took to answer. No user input goes into it."""
    nodes: dict[str, list[TreeRow]] = {kind: [] for kind in TREE_KINDS}
    with connection.cursor() as cursor:
        cursor.execute(_trees_sql())
        for kind, pk, path, depth, name in cursor.fetchall():
            nodes[kind].append(TreeRow(pk, path, depth, name))
    for rows in nodes.values():
        rows.sort(key=lambda r: r.path)
    return nodes


def asset_filter_trees() -> FilterTrees:
    """The trees the list filters on (loaded lazily, in one query)."""
    return FilterTrees()


def asset_search(queryset: QuerySet[Asset], q: str) -> QuerySet[Asset]:
    """Search box: an exact tag or serial number → only those assets (one indexed probe);
    otherwise tag/serial by prefix or name/holder name by substring."""
    q = (q or "").strip()
    if not q:
        return queryset
    exact = queryset.filter(_exact_q(q))
    if exact.exists():
        return exact
    return _search_broad(queryset, q)


def _exact_q(q: str) -> Q:
    return Q(tag=q) | Q(serial_number=q)


def _search_broad(queryset: QuerySet[Asset], q: str) -> QuerySet[Asset]:
    """Tag or serial number by prefix (indexed LIKE 'q%'), name or holder name by substring."""
    holders = Person.objects.filter(name__icontains=q).values("id")
    return queryset.filter(
        Q(tag__istartswith=q)
        | Q(serial_number__istartswith=q)
        | Q(name__icontains=q)
        | Q(holder_id__in=holders)
    )


def asset_filter(
    queryset: QuerySet[Asset], *, filters: Mapping, trees: FilterTrees | None = None
) -> QuerySet[Asset]:
    """Apply the list's cleaned filter values (see ``assets.filters.AssetFilterSet``)."""
    qs = queryset
    if filters.get("status"):
        qs = qs.filter(status__in=list(filters["status"]))
    for kind in TREE_KINDS:
        node_id = filters.get(kind)
        if node_id:
            trees = trees if trees is not None else asset_filter_trees()
            qs = qs.filter(**{f"{kind}_id__in": trees.subtree_ids(kind, int(node_id))})
    if filters.get("holder"):
        qs = qs.filter(holder__employee_no=filters["holder"])
    if filters.get("purchase_from"):
        qs = qs.filter(purchase_date__gte=filters["purchase_from"])
    if filters.get("purchase_to"):
        qs = qs.filter(purchase_date__lte=filters["purchase_to"])
    if filters.get("warranty_days") is not None:
        today = timezone.localdate()
        days = int(filters["warranty_days"])
        qs = qs.filter(warranty_end__range=(today, today + timedelta(days=days)))
    if filters.get("q"):
        qs = asset_search(qs, filters["q"])
    return qs


def asset_list_order(sort: str | None) -> tuple[str, tuple[str, ...]]:
    """(the accepted sort key or "", the ORDER BY): whitelisted column then id, same direction."""
    key = (sort or "").strip()
    column = LIST_SORTS.get(key.removeprefix("-"))
    if column is None:
        return "", LIST_DEFAULT_ORDER
    sign = "-" if key.startswith("-") else ""
    if column in LIST_UNIQUE_SORTS:  # no ties to break; "tag, id" could not use the tag index
        return key, (f"{sign}{column}",)
    return key, (f"{sign}{column}", f"{sign}id")


def asset_list(*, user, filters: Mapping, trees: FilterTrees | None = None) -> QuerySet[Asset]:
    """The assets the list shows: data scope, filters, search and sort (not yet paginated)."""
    qs = asset_filter(asset_queryset(user=user), filters=filters, trees=trees)
    _key, order = asset_list_order(filters.get("sort"))
    return qs.order_by(*order)


@dataclass
class AssetPage:
    """One page of the list. ``count`` is exact up to ``cap``; beyond it ``capped`` is set."""

    rows: list[Asset]
    number: int
    per_page: int
    count: int
    capped: bool
    has_next: bool
    cap: int = LIST_COUNT_CAP

    @property
    def count_label(self) -> str:
        """The count as shown: "1,234" or, past the cap, "10,000+"."""
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def num_pages(self) -> int | None:
        """The last page number, or None when the count is capped."""
        if self.capped:
            return None
        return max(1, -(-self.count // self.per_page))

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.rows)

    def window(self, size: int = 2) -> list[int]:
        """Page numbers around the current one that are known to exist."""
        if self.num_pages is not None:
            last = self.num_pages
        else:
            known = -(-self.cap // self.per_page)
            last = max(known, self.number + (1 if self.has_next else 0))
        return list(range(max(1, self.number - size), min(last, self.number + size) + 1))


LIST_ROW_RELATIONS = ("model", "category", "manufacturer", "department", "holder", "location")
# The columns a list row shows; loading only these keeps the row query small to build and send.
LIST_ROW_FIELDS = (
    "tag",
    "name",
    "status",
    "serial_number",
    "purchase_date",
    "cost",
    "warranty_end",
    "updated_at",
)
_RELATION_FIELDS = {
    "model": ("name",),
    "manufacturer": ("name",),
    "category": ("name", "full_name"),
    "department": ("name", "full_name"),
    "location": ("name", "full_name"),
    "holder": ("name", "employee_no"),
}


def asset_page(
    queryset: QuerySet[Asset],
    *,
    page: int = 1,
    per_page: int = LIST_DEFAULT_PER_PAGE,
    cap: int | None = None,
    related: Sequence[str] = LIST_ROW_RELATIONS,
) -> AssetPage:
    """Paginate an ordered asset queryset with a deferred join and a capped count, in one
    statement::

        SELECT <row columns>, (SELECT COUNT(*) FROM (SELECT id … LIMIT cap+1) capped)
        FROM asset LEFT JOIN <relations>
        WHERE asset.id IN (SELECT id FROM (SELECT id … ORDER BY col, id
                                           LIMIT per_page+1 OFFSET n) page_ids)
        ORDER BY col, id

    The innermost query reads ids only, walking a covering "(col, id)" index, however deep
    the page; MariaDB materialises those few ids and fetches their rows by primary key (the
    final ORDER BY sorts just them). The count stops at ``cap + 1``: no request counts the
    whole table. One round trip instead of two keeps the page within its query budget.
    """
    cap = LIST_COUNT_CAP if cap is None else cap
    page = min(max(1, page), LIST_MAX_PAGE)
    offset = (page - 1) * per_page
    order = queryset.query.order_by or Asset._meta.ordering
    db = queryset.db
    # Django compiles both subqueries with placeholders; the values stay parameters.
    inner = queryset.order_by().values("id")[: cap + 1]
    inner_sql, inner_params = inner.query.get_compiler(db).as_sql()
    total = RawSQL(f"SELECT COUNT(*) FROM ({inner_sql}) capped", inner_params)  # noqa: S608, S611
    ids = queryset.order_by(*order).values("id")[offset : offset + per_page + 1]
    ids_sql, ids_params = ids.query.get_compiler(db).as_sql()
    page_ids = RawSQL(f"SELECT id FROM ({ids_sql}) page_ids", ids_params)  # noqa: S608, S611
    hits = list(
        _with_row_columns(Asset.objects.filter(id__in=page_ids), related)
        .annotate(capped_total=total)
        .order_by(*order)
    )
    if hits:
        count = hits[0].capped_total
    elif page > 1:  # past the end: count separately so the page can say how many there are
        count = inner.count()
    else:
        count = 0
    return AssetPage(
        rows=hits[:per_page],
        number=page,
        per_page=per_page,
        count=min(count, cap),
        capped=count > cap,
        has_next=len(hits) > per_page,
        cap=cap,
    )


def _with_row_columns(queryset: QuerySet[Asset], related: Sequence[str]) -> QuerySet[Asset]:
    return queryset.select_related(*related).only(
        *LIST_ROW_FIELDS,
        *related,
        *(f"{rel}__{field}" for rel in related for field in _RELATION_FIELDS[rel]),
    )


def asset_list_page(
    *,
    user,
    filters: Mapping,
    page: int = 1,
    per_page: int = LIST_DEFAULT_PER_PAGE,
    related: Sequence[str] = LIST_ROW_RELATIONS,
    trees: FilterTrees | None = None,
) -> AssetPage:
    """One page of the list: data scope, filters, search, sort and deferred-join pagination.

    Same result as ``asset_page(asset_list(...))``, but a search that is exactly a tag or
    serial number is answered by the probe itself: it reads the matching rows (an index
    lookup on tag and serial number) in page order, one query instead of three.
    """
    q = (filters.get("q") or "").strip()
    queryset = asset_filter(
        asset_queryset(user=user), filters={**filters, "q": ""}, trees=trees
    ).order_by(*asset_list_order(filters.get("sort"))[1])
    if q:
        exact = queryset.filter(_exact_q(q))
        hits = list(_with_row_columns(exact, related)[: per_page + 1])
        if hits and len(hits) <= per_page and page <= 1:
            return AssetPage(
                rows=hits,
                number=1,
                per_page=per_page,
                count=len(hits),
                capped=False,
                has_next=False,
            )
        queryset = exact if hits else _search_broad(queryset, q)
    return asset_page(queryset, page=page, per_page=per_page, related=related)


# --- Preferences and the home page ------------------------------------------------------------


def user_preference_get(*, user, key: str, default=None):
    value = (
        UserPreference.objects.filter(user=user, key=key).values_list("value", flat=True).first()
    )
    return default if value is None else value


DASHBOARD_CACHE_SECONDS = 60
DASHBOARD_CACHE_KEY = "assets:dashboard:all"
DASHBOARD_WARRANTY_DAYS = 30
DASHBOARD_TOP_CATEGORIES = 8


def _dashboard_counts(queryset: QuerySet[Asset]) -> dict:
    """Counts by status, by top-level category and warranty ending soon: GROUP BYs on the
    "(status, id)" and "(category, id)" indexes and one range on "(warranty_end, id)"."""
    qs = queryset.order_by()
    by_status = {r["status"]: r["n"] for r in qs.values("status").annotate(n=Count("id"))}
    by_leaf = {r["category_id"]: r["n"] for r in qs.values("category_id").annotate(n=Count("id"))}
    today = timezone.localdate()
    warranty = qs.filter(
        warranty_end__range=(today, today + timedelta(days=DASHBOARD_WARRANTY_DAYS))
    ).count()
    # Roll categories up to the top level (or to the second level under a single root).
    cats = list(Category.objects.order_by("path").values_list("id", "path", "depth", "name"))
    roots = [c for c in cats if c[2] == 1]
    level = 2 if len(roots) == 1 and any(c[2] == 2 for c in cats) else 1
    heads = [c for c in cats if c[2] == level]
    by_head = []
    for head_id, head_path, _depth, name in heads:
        n = sum(by_leaf.get(c[0], 0) for c in cats if c[1].startswith(head_path))
        if n:
            by_head.append({"id": head_id, "name": name, "count": n})
    by_head.sort(key=lambda c: (-c["count"], c["name"]))
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_category": by_head[:DASHBOARD_TOP_CATEGORIES],
        "warranty_soon": warranty,
    }


def asset_dashboard(*, user) -> dict | None:
    """The home page's counts within the user's data scope (None: the user sees no assets).

    The all-scope figures are the same for every clerk, admin and auditor: cached 60 s.
    """
    scope = user_scope(user)
    if scope is None:
        return None
    if scope == Scope.ALL:
        counts = cache.get(DASHBOARD_CACHE_KEY)
        if counts is None:
            counts = _dashboard_counts(Asset.objects.all())
            cache.set(DASHBOARD_CACHE_KEY, counts, DASHBOARD_CACHE_SECONDS)
        return counts
    return _dashboard_counts(asset_queryset(user=user))
