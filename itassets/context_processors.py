from django.conf import settings

from .navigation import nav_for
from .roles import ROLES, user_role_slugs


def site(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"organisation_name": settings.ORGANISATION_NAME, "nav_items": []}
    return {
        "organisation_name": settings.ORGANISATION_NAME,
        "nav_items": nav_for(user, request.path),
        "user_roles": [ROLES[s].label for s in sorted(user_role_slugs(user))],
    }
