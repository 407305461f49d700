"""The asset list: filters, search, sort, deferred-join pagination, column chooser.

One URL, one view: a plain request gets the page, an htmx request that is not boosted gets
only the ``asset-table`` partial. Every link keeps a real ``href``, so the page works without
JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from itassets.roles import role_grants, user_scope

from .. import selectors, services
from ..filters import STATE_KEYS, AssetFilterSet
from ..lifecycle import STATUS_BADGE, Status

COLUMNS_PREF_KEY = "asset_list.columns"
LABEL_FORMATS = (("50x30", _("50 × 30 mm")), ("70x40", _("70 × 40 mm")), ("a4-3x8", _("A4, 3 × 8")))


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort: str | None = None  # key in selectors.LIST_SORTS
    css: str = ""  # responsive visibility: narrow screens show fewer columns
    default: bool = True
    required: bool = False


COLUMNS = [
    Column("tag", _("Asset tag"), "tag", "text-nowrap", required=True),
    Column("name", _("Name"), "name", required=True),
    Column("status", _("Status"), "status", "text-nowrap"),
    Column("category", _("Category"), "category", "d-none d-lg-table-cell"),
    Column("model", _("Model"), None, "d-none d-xl-table-cell", default=False),
    Column("serial_number", _("Serial number"), None, "d-none d-xl-table-cell", default=False),
    Column("department", _("Department"), "department", "d-none d-md-table-cell"),
    Column("holder", _("User"), "holder", "d-none d-sm-table-cell text-nowrap"),
    Column("location", _("Location"), "location", "d-none d-lg-table-cell"),
    Column("purchase_date", _("Purchase date"), "purchase_date", "d-none d-xl-table-cell", False),
    Column("cost", _("Cost (CNY)"), "cost", "d-none d-xl-table-cell text-end", False),
    Column("warranty_end", _("Warranty end"), "warranty_end", "d-none d-lg-table-cell"),
    Column("updated_at", _("Updated"), "updated_at", "d-none d-xl-table-cell", False),
]
COLUMNS_BY_KEY = {c.key: c for c in COLUMNS}
DEFAULT_COLUMNS = [c.key for c in COLUMNS if c.default]


# Rows are rendered here rather than with a template loop of {% if %}s per cell: at 100 rows
# that loop alone cost tens of milliseconds. Each cell function returns the escaped <td>.
def _td(css: str, text, title=None) -> str:
    title_attr = f' title="{escape(title)}"' if title else ""
    return f'<td class="{css}"{title_attr}>{escape(text)}</td>'


def _node(node, css: str) -> str:
    return _td(css, node.name, node.full_name) if node is not None else _td(css, "")


def _date(value) -> str:
    return value.isoformat() if value else ""


def _tag_cell(a, r) -> str:
    url = r.detail_head + quote(a.tag, safe="!$&'()*+,;=~:@") + r.detail_tail
    link = f'<a class="font-monospace" href="{escape(url)}">{escape(a.tag)}</a>'
    return f'<td class="{r.css}">{link}</td>'


def _status_cell(a, r) -> str:
    badge = STATUS_BADGE.get(a.status, "secondary")
    label = escape(r.status_labels.get(a.status, a.status))
    return f'<td class="{r.css}"><span class="badge text-bg-{badge}">{label}</span></td>'


def _warranty_cell(a, r) -> str:
    late = " text-danger" if a.warranty_end and a.warranty_end < r.today else ""
    return _td(f"{r.css}{late}", _date(a.warranty_end))


CELLS = {
    "tag": _tag_cell,
    "name": lambda a, r: _td(r.css, a.name),
    "status": _status_cell,
    "category": lambda a, r: _node(a.category, r.css),
    "model": lambda a, r: _td(r.css, a.model.name),
    "serial_number": lambda a, r: _td(f"{r.css} font-monospace small", a.serial_number or ""),
    "department": lambda a, r: _node(a.department, r.css),
    "holder": lambda a, r: _td(r.css, a.holder.name if a.holder else ""),
    "location": lambda a, r: _node(a.location, r.css),
    "purchase_date": lambda a, r: _td(f"{r.css} text-nowrap", _date(a.purchase_date)),
    "cost": lambda a, r: _td(f"{r.css} text-nowrap", "" if a.cost is None else f"{a.cost:.2f}"),
    "warranty_end": _warranty_cell,
    "updated_at": lambda a, r: _td(
        f"{r.css} text-nowrap small",
        timezone.localtime(a.updated_at).strftime("%Y-%m-%d %H:%M") if a.updated_at else "",
    ),
}
# The relations each column reads (the row query loads only those of the visible columns).
COLUMN_RELATIONS = {
    "category": "category",
    "model": "model",
    "department": "department",
    "holder": "holder",
    "location": "location",
}


@dataclass(frozen=True)
class _RowContext:
    css: str
    today: object
    status_labels: dict
    detail_head: str
    detail_tail: str


def table_rows(assets, columns: list[str], *, selectable: bool) -> list[str]:
    """One ``<tr>`` per asset (safe HTML), the bulk-selection checkbox first if selectable."""
    head, tail = reverse("assets:detail", args=["__tag__"]).split("__tag__")
    labels = {s.value: str(s.label) for s in Status}
    today = timezone.localdate()
    plan = [
        (CELLS[key], _RowContext(COLUMNS_BY_KEY[key].css, today, labels, head, tail))
        for key in columns
    ]
    rows = []
    for a in assets:
        check = (
            '<td class="text-center"><input class="form-check-input" type="checkbox" '
            f'name="tags" value="{escape(a.tag)}" form="asset-bulk" aria-label="{escape(a.tag)}">'
            "</td>"
            if selectable
            else ""
        )
        cells = "".join(cell(a, ctx) for cell, ctx in plan)
        rows.append(mark_safe(f"<tr>{check}{cells}</tr>"))  # noqa: S308 (every value escaped)
    return rows


def _require_scope(user) -> None:
    if user_scope(user) is None:
        raise PermissionDenied


def _wants_fragment(request) -> bool:
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def clean_columns(keys) -> list[str]:
    """Known column keys in table order, required ones always in (unknown keys dropped)."""
    wanted = set(keys or ())
    return [c.key for c in COLUMNS if c.required or c.key in wanted]


def _user_columns(user) -> list[str]:
    stored = selectors.user_preference_get(user=user, key=COLUMNS_PREF_KEY)
    return clean_columns(stored) if isinstance(stored, list) else DEFAULT_COLUMNS


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _state(params: QueryDict, filter_keys, sort_key: str, per_page: int) -> list[tuple]:
    """The list's canonical state as query pairs: non-empty filters, then sort and page size
    when not the default."""
    state = [(key, v) for key in filter_keys for v in params.getlist(key) if v.strip()]
    if sort_key:
        state.append(("sort", sort_key))
    if per_page != selectors.LIST_DEFAULT_PER_PAGE:
        state.append(("per_page", str(per_page)))
    return state


def _href(base: str, state: list[tuple], **changes) -> str:
    pairs = [(k, v) for k, v in state if k not in changes]
    pairs += [(k, v) for k, v in changes.items() if v not in (None, "")]
    return f"{base}?{urlencode(pairs)}" if pairs else base


def _headers(columns: list[str], sort_key: str, base: str, state: list[tuple]) -> list[dict]:
    headers = []
    for key in columns:
        col = COLUMNS_BY_KEY[key]
        direction = next_sort = None
        if col.sort:
            if sort_key == col.sort:
                direction, next_sort = "asc", f"-{col.sort}"
            elif sort_key == f"-{col.sort}":
                direction, next_sort = "desc", col.sort
            else:
                next_sort = col.sort
        headers.append(
            {
                "column": col,
                "direction": direction,
                "url": _href(base, state, sort=next_sort, page=None) if next_sort else None,
            }
        )
    return headers


def _pagination(page: selectors.AssetPage, base: str, state: list[tuple]) -> dict:
    def link(number):
        return _href(base, state, page=number if number > 1 else None)

    last = page.num_pages
    return {
        "first": link(1) if page.has_previous else None,
        "previous": link(page.number - 1) if page.has_previous else None,
        "window": [
            {"number": n, "url": link(n), "current": n == page.number} for n in page.window()
        ],
        "next": link(page.number + 1) if page.has_next else None,
        "last": link(last) if last and last > page.number + 2 else None,
        "last_number": last,
    }


def _optional_url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _status_options(form) -> list[dict]:
    """The status checkboxes as the template draws them (iterating the bound field would
    build a widget and its context per checkbox)."""
    field = form["status"]
    chosen = {str(v) for v in field.value() or ()}
    return [
        {"value": value, "label": label, "id": f"{field.auto_id}_{i}", "checked": value in chosen}
        for i, (value, label) in enumerate(field.field.choices)
    ]


def list_context(request, params: QueryDict) -> dict:
    """Everything the page and its table partial show, for the list state in ``params``."""
    trees = selectors.asset_filter_trees()
    filterset = AssetFilterSet(params, trees=trees)
    filters = filterset.cleaned_filters
    sort_key, _order = selectors.asset_list_order(params.get("sort"))
    per_page = _int(params.get("per_page"), selectors.LIST_DEFAULT_PER_PAGE)
    if per_page not in selectors.LIST_PER_PAGE_CHOICES:
        per_page = selectors.LIST_DEFAULT_PER_PAGE
    columns = _user_columns(request.user)
    page = selectors.asset_list_page(
        user=request.user,
        filters={**filters, "sort": sort_key},
        page=_int(params.get("page"), 1),
        per_page=per_page,
        related=[COLUMN_RELATIONS[c] for c in columns if c in COLUMN_RELATIONS],
        trees=trees,
    )
    labels_url = _optional_url("assets:labels")
    base = reverse("assets:list")
    state = _state(params, list(filterset.filters), sort_key, per_page)
    return {
        "filter": filterset,
        "status_options": _status_options(filterset.form),
        "page": page,
        "columns": columns,
        "all_columns": COLUMNS,
        "headers": _headers(columns, sort_key, base, state),
        "rows": table_rows(page.rows, columns, selectable=labels_url is not None),
        "pagination": _pagination(page, base, state),
        "sort_key": sort_key,
        "per_page": per_page,
        "per_page_choices": selectors.LIST_PER_PAGE_CHOICES,
        "state_url": _href(base, state, page=page.number if page.number > 1 else None),
        "filtered": bool(filters),
        "filters_open": any(key != "q" for key in filters),
        "labels_url": labels_url,
        "can_add": role_grants(request.user, "assets.add_asset"),
        # Which bulk actions to offer (the bulk views check has_perm themselves).
        "may": {
            perm: role_grants(request.user, f"assets.{perm}")
            for perm in ("assign_asset", "repair_asset", "request_disposal_asset")
        },
        "label_formats": LABEL_FORMATS,
        "state_keys": STATE_KEYS,
    }


@login_required
@require_GET
def asset_list(request):
    """``/assets/``: the register, filtered by the query string."""
    _require_scope(request.user)
    context = list_context(request, request.GET)
    if _wants_fragment(request):
        response = render(request, "assets/asset_list.html#asset-table", context)
        # The address bar shows the canonical state, not the form's empty fields.
        response["HX-Push-Url"] = context["state_url"]
    else:
        response = render(request, "assets/asset_list.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@login_required
@require_POST
def asset_columns(request):
    """``/assets/columns/``: save the visible columns; htmx gets the table again (the filter
    form's fields come along in the POST), a plain POST is sent back to the list."""
    _require_scope(request.user)
    columns = clean_columns(request.POST.getlist("columns"))
    services.user_preference_set(user=request.user, key=COLUMNS_PREF_KEY, value=columns)
    if _wants_fragment(request):
        return render(
            request, "assets/asset_list.html#asset-table", list_context(request, request.POST)
        )
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("assets:list")
    return redirect(next_url)
