"""The notification centre (/notifications/), the header badge and the preferences page.

Views are thin: they parse input, call one selector or service, render. An htmx request
that is not boosted gets the fragment (template partials); mutations are POSTs and answer
htmx with the changed fragment and an ``HX-Trigger: notificationsChanged`` event the badge
listens to; a plain POST redirects.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import selectors, services
from .forms import PreferencesForm

TEMPLATE = "notifications/notification_list.html"
SETTINGS_TEMPLATE = "notifications/preferences.html"
BADGE_TEMPLATE = "notifications/partials/badge.html"
CHANGED = "notificationsChanged"
PER_PAGE = 30


def _is_fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _list_context(request) -> dict:
    unread_only = request.GET.get("unread") == "1"
    paginator = Paginator(
        selectors.notification_list(user=request.user, unread_only=unread_only), PER_PAGE
    )
    return {
        "page": paginator.get_page(request.GET.get("page")),
        "unread_only": unread_only,
        "unread_count": selectors.unread_count(user=request.user),
    }


@login_required
@require_GET
def notification_list(request):
    context = _list_context(request)
    if _is_fragment(request):
        return render(request, f"{TEMPLATE}#notification-list", context)
    return render(request, TEMPLATE, context)


@login_required
@require_GET
def badge(request):
    return render(request, BADGE_TEMPLATE, {"count": selectors.unread_count(user=request.user)})


@login_required
@require_POST
def notification_read(request, pk: int):
    notification = services.notification_mark_read(user=request.user, notification_id=pk)
    if notification is None:
        raise Http404
    if not request.htmx:
        return redirect("notifications:list")
    response = render(request, f"{TEMPLATE}#notification-row", {"notification": notification})
    response["HX-Trigger"] = CHANGED
    return response


@login_required
@require_POST
def notification_open(request, pk: int):
    """Mark read and go to the notification's link (only links to this site)."""
    notification = services.notification_mark_read(user=request.user, notification_id=pk)
    if notification is None:
        raise Http404
    link = notification.link
    if link and url_has_allowed_host_and_scheme(
        link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(link)
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read_all(request):
    count = services.notifications_mark_all_read(user=request.user)
    if not request.htmx:
        messages.success(request, _("%(count)d notifications marked as read.") % {"count": count})
        return redirect("notifications:list")
    response = render(request, f"{TEMPLATE}#notification-list", _list_context(request))
    response["HX-Trigger"] = CHANGED
    return response


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    rows = selectors.preference_matrix(user=request.user)
    form = PreferencesForm(request.POST or None, rows=rows)
    if request.method == "POST" and form.is_valid():
        services.preferences_save(user=request.user, choices=form.choices())
        messages.success(request, _("Your notification settings were saved."))
        if not _is_fragment(request):
            return redirect("notifications:settings")
        form = PreferencesForm(rows=selectors.preference_matrix(user=request.user))
    context = {"form": form, "channels": [c for c, _e in rows[0].cells] if rows else []}
    context["channel_labels"] = _channel_labels(context["channels"])
    context["action"] = reverse("notifications:settings")
    if _is_fragment(request):
        return render(request, f"{SETTINGS_TEMPLATE}#preferences-form", context)
    return render(request, SETTINGS_TEMPLATE, context)


def _channel_labels(channels: list[str]) -> list[str]:
    from .models import Channel

    return [Channel(c).label for c in channels]
