"""The authentication backend: Django's ModelBackend, with fewer queries per request.

Every page asks the same things about its user: which roles they have (navigation, data
scope, buttons) and which person they are (navigation, "own" scope). ``get_user`` loads the
session's user with both in the one query Django runs anyway: one EXISTS per role
(:func:`itassets.roles.users_with_roles`) and the linked person (``assets.Person.user`` is a
one-to-one, so ``select_related`` joins it). ``has_perm`` reads the user's and their groups'
permissions in one UNION instead of two queries. Both statements are compiled once per
process (:mod:`itassets.precompiled`, ``_permissions_sql``), not per request. Nothing is
cached beyond the request, so a changed role or person takes effect on the next request.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from .precompiled import GetByPk
from .roles import users_with_roles

# The reverse one-to-one of assets.Person.user (the person a login user is).
PERSON_RELATION = "person"


@cache
def _user_get() -> GetByPk:
    """The session user's lookup, compiled once (see :mod:`itassets.precompiled`)."""
    return GetByPk(_user_queryset())


@cache
def _user_queryset():
    """Built once: constructing the six EXISTS clauses cost more than running the query."""
    model = get_user_model()
    queryset = users_with_roles()
    if any(r.get_accessor_name() == PERSON_RELATION for r in model._meta.related_objects):
        queryset = queryset.select_related(PERSON_RELATION)
    return queryset


@cache
def _permissions_sql() -> str:
    """The user's own and their groups' permissions as (app label, codename) rows, in one
    UNION written once: building it with the ORM cost more CPU than running it (measured on
    the issue endpoint, where it was a quarter of the request). Parameters: the user id twice.
    """
    qn = connection.ops.quote_name
    user_model = get_user_model()
    own = user_model.user_permissions.through._meta
    membership = user_model.groups.through._meta
    granted = Group.permissions.through._meta
    perm, ctype = Permission._meta, ContentType._meta
    content_type = perm.get_field("content_type").column
    select = (
        f"SELECT ct.{qn('app_label')}, p.{qn('codename')} FROM {qn(perm.db_table)} p "  # noqa: S608
        f"INNER JOIN {qn(ctype.db_table)} ct ON ct.{qn('id')} = p.{qn(content_type)} "
    )
    return (
        f"{select}INNER JOIN {qn(own.db_table)} up "
        f"ON up.{qn(own.get_field('permission').column)} = p.{qn('id')} "
        f"WHERE up.{qn(own.get_field('user').column)} = %s "
        f"UNION {select}INNER JOIN {qn(granted.db_table)} gp "
        f"ON gp.{qn(granted.get_field('permission').column)} = p.{qn('id')} "
        f"INNER JOIN {qn(membership.db_table)} ug "
        f"ON ug.{qn(membership.get_field('group').column)} "
        f"= gp.{qn(granted.get_field('group').column)} "
        f"WHERE ug.{qn(membership.get_field('user').column)} = %s"
    )


class RolesModelBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            user = _user_get().get(user_id)
        except (ValueError, TypeError):  # a session holding something else than an id
            return None
        if user is None:
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
                with connection.cursor() as cursor:
                    cursor.execute(_permissions_sql(), [user_obj.pk, user_obj.pk])
                    rows = cursor.fetchall()
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
        return user_obj._perm_cache
