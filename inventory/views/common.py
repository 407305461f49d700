"""Shared by the inventory pages: permission checks, fragments, query strings, pagination."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.utils.cache import patch_vary_headers

VIEW_ITEM = "inventory.view_item"
VIEW_DOCUMENT = "inventory.view_document"
VIEW_LEDGER = "inventory.view_ledgerentry"
VIEW_STOCK = "inventory.view_stock"
PER_PAGE = 50


def require_perm(user, *perms: str) -> None:
    """403 unless the user holds every permission (employees and department heads hold
    none of the inventory's: they use requisitions)."""
    if not all(user.has_perm(p) for p in perms):
        raise PermissionDenied


def wants_fragment(request) -> bool:
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def vary_on_htmx(response):
    patch_vary_headers(response, ("HX-Request",))
    return response


def state_pairs(params, keys) -> list[tuple[str, str]]:
    """The non-empty values of ``keys`` in ``params`` as query pairs (the list's state)."""
    return [(k, v) for k in keys for v in params.getlist(k) if v.strip()]


def href(base: str, pairs: list[tuple], **changes) -> str:
    kept = [(k, v) for k, v in pairs if k not in changes]
    kept += [(k, str(v)) for k, v in changes.items() if v not in (None, "")]
    return f"{base}?{urlencode(kept)}" if kept else base


def paginate(queryset, params, *, per_page: int = PER_PAGE):
    """A page of ``queryset`` (out-of-range numbers give the last page)."""
    return Paginator(queryset, per_page).get_page(params.get("page"))


def pager(page, base: str, pairs: list[tuple]) -> dict:
    """Links of a numbered pager, with real hrefs."""

    def link(number):
        return href(base, pairs, page=number if number > 1 else None)

    return {
        "page": page,
        "previous": link(page.previous_page_number()) if page.has_previous() else None,
        "next": link(page.next_page_number()) if page.has_next() else None,
        "first": link(1) if page.number > 2 else None,
        "last": link(page.paginator.num_pages)
        if page.number < page.paginator.num_pages - 1
        else None,
    }
