"""``{% notification_badge %}`` (header bell with the unread count, polled by htmx) and
``{% scheduler_banner %}`` (red banner for administrators when beat or the workers are silent).

The badge reads the count from the cache only: on a miss it renders without a number and
loads itself at once (``hx-trigger="load"``), so no page's query count grows."""

from django import template

from itassets.roles import ADMIN, has_role

from ..selectors import scheduler_problems_cached, unread_count_cached

register = template.Library()


@register.inclusion_tag("notifications/partials/badge.html", takes_context=True)
def notification_badge(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    count = unread_count_cached(user=user) if user is not None else 0
    return {"count": count or 0, "load": count is None}


@register.inclusion_tag("notifications/partials/scheduler_banner.html", takes_context=True)
def scheduler_banner(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not has_role(user, ADMIN):
        return {"problems": []}
    return {"problems": scheduler_problems_cached()}
