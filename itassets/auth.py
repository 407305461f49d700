"""The authentication backend: Django's ModelBackend, with fewer queries per request.

Every page asks the same things about its user: which roles they have (navigation, data
scope, buttons) and which person they are (navigation, "own" scope). ``get_user`` loads the
session's user with both in the one query Django runs anyway: one EXISTS per role
(:func:`itassets.roles.users_with_roles`) and the linked person (``assets.Person.user`` is a
one-to-one, so ``select_related`` joins it). ``has_perm`` reads the user's and their groups'
permissions in one UNION instead of two queries. Nothing is cached beyond the request, so a
changed role or person takes effect on the next request.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

from .roles import users_with_roles

# The reverse one-to-one of assets.Person.user (the person a login user is).
PERSON_RELATION = "person"


@cache
def _user_queryset():
    """Built once: constructing the six EXISTS clauses cost more than running the query."""
    model = get_user_model()
    queryset = users_with_roles()
    if any(r.get_accessor_name() == PERSON_RELATION for r in model._meta.related_objects):
        queryset = queryset.select_related(PERSON_RELATION)
    return queryset


class RolesModelBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            user = _user_queryset().get(pk=user_id)  # get() clones: the base stays unevaluated
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            columns = ("content_type__app_label", "codename")
            if user_obj.is_superuser:
                rows = Permission.objects.order_by().values_list(*columns)
            else:
                own = Permission.objects.filter(user=user_obj).order_by().values_list(*columns)
                by_group = Permission.objects.filter(group__user=user_obj).order_by()
                rows = own.union(by_group.values_list(*columns))
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
        return user_obj._perm_cache
