from django.conf import settings
from django.utils.functional import SimpleLazyObject

from .navigation import nav_for
from .roles import ROLES, user_role_slugs


def site(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"organisation_name": settings.ORGANISATION_NAME, "nav_items": []}
    # Built when a template shows them (base.html): fragments such as the notification badge,
    # polled by every open page, and htmx tables do not pay for the navigation.
    return {
        "organisation_name": settings.ORGANISATION_NAME,
        "nav_items": SimpleLazyObject(lambda: nav_for(user, request.path)),
        "user_roles": SimpleLazyObject(
            lambda: [ROLES[s].label for s in sorted(user_role_slugs(user))]
        ),
    }
