"""The main navigation: each entry says who sees it. Later apps add their entries here."""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .roles import can_use_admin_site, user_scope


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    visible: Callable = lambda user: True
    icon: str = ""


NAV: list[NavItem] = [
    NavItem(_("Home"), "home"),
    NavItem(_("Assets"), "assets:list", lambda user: user_scope(user) is not None),
    NavItem(_("Administration"), "admin:index", can_use_admin_site),
]


def nav_for(user, path: str) -> list[dict]:
    items = []
    for item in NAV:
        if not item.visible(user):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        active = path == url if url == "/" else path.startswith(url)
        items.append({"label": item.label, "url": url, "active": active})
    return items
