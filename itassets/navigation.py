"""The main navigation: each entry says who sees it. Later apps add their entries here."""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from .roles import (
    ADMIN,
    CLERK,
    DEPT_HEAD,
    can_use_admin_site,
    has_role,
    role_grants,
    user_scope,
)


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    visible: Callable = lambda user: True
    icon: str = ""


def _has_person(user) -> bool:
    from assets.selectors import person_for  # the assets app loads after this module

    return person_for(user) is not None


def _role_grants(user, perm: str) -> bool:
    """Whether one of the user's roles grants ``perm``, without the permission query
    ``has_perm`` costs (the nav only shows links; each view still checks ``has_perm``)."""
    return role_grants(user, perm)


def _approves(user) -> bool:
    return has_role(user, CLERK) or _role_grants(user, "assets.approve_asset_request")


NAV: list[NavItem] = [
    NavItem(_("Home"), "home"),
    NavItem(_("Assets"), "assets:list", lambda user: user_scope(user) is not None),
    NavItem(
        _("Depreciation"),
        "reports:depreciation",
        lambda user: _role_grants(user, "assets.view_asset"),
    ),
    NavItem(
        _("Repairs"),
        "assets:repair_list",
        lambda user: _role_grants(user, "assets.view_repairorder"),
    ),
    NavItem(
        _("Consumables"),
        "inventory:item_list",
        lambda user: _role_grants(user, "inventory.view_item"),
    ),
    NavItem(
        _("Stock documents"),
        "inventory:document_list",
        lambda user: _role_grants(user, "inventory.view_document"),
    ),
    NavItem(
        _("Low stock"),
        "inventory:low_stock",
        lambda user: _role_grants(user, "inventory.view_stock"),
    ),
    NavItem(_("My assets"), "me:assets", _has_person),
    NavItem(_("Asset requests"), "me:requests", _has_person),
    NavItem(_("Requisitions"), "me:requisitions", _has_person),  # 领用申请
    NavItem(
        _("Stocktakes"),  # 盘点
        "inventory:stocktake_list",
        lambda user: _role_grants(user, "inventory.view_stocktake"),
    ),
    NavItem(
        _("Requisition approvals"),
        "inventory:requisition_approvals",
        lambda user: has_role(user, DEPT_HEAD, ADMIN),
    ),
    NavItem(
        _("Requisitions to issue"),
        "inventory:requisition_queue",
        lambda user: _role_grants(user, "inventory.fulfil_requisition"),
    ),
    NavItem(_("Approvals"), "approvals:list", _approves),
    NavItem(
        _("Request handling"), "requests:list", lambda user: has_role(user, DEPT_HEAD, CLERK, ADMIN)
    ),
    NavItem(_("Import"), "imports:page", lambda user: _role_grants(user, "assets.add_asset")),
    NavItem(_("Administration"), "admin:index", can_use_admin_site),
]


_URLS: dict[tuple, str | None] = {}


def _url(name: str) -> str | None:
    """``reverse(name)``, remembered per URL configuration and script prefix (every page
    reverses every entry; None: the app is not mounted)."""
    key = (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix(), name)
    if key not in _URLS:
        try:
            _URLS[key] = reverse(name)
        except NoReverseMatch:
            _URLS[key] = None
    return _URLS[key]


def nav_for(user, path: str) -> list[dict]:
    items = []
    for item in NAV:
        if not item.visible(user):
            continue
        url = _url(item.url_name)
        if url is None:
            continue
        active = path == url if url == "/" else path.startswith(url)
        items.append({"label": item.label, "url": url, "active": active})
    return items
