"""The authentication backend: Django's ModelBackend, with fewer queries per request.

Every page asks the same things about its user: which roles they have (navigation, data
scope, buttons) and which person they are (navigation, "own" scope). ``get_user`` loads the
session's user with both in one query: one bit per role
(:func:`itassets.roles.users_with_roles`) and the linked person (``assets.Person.user`` is a
one-to-one, so ``select_related`` joins it). ``has_perm`` reads the user's and their groups'
permissions in one UNION instead of two queries. Both statements are compiled once per
process (:mod:`itassets.precompiled`, ``_permissions_sql``), not per request.

Auth snapshot (docs/decisions.md, 17). What those two queries return is kept in the cache
(Redis in production) as the user's *snapshot*, tagged with the *auth generation*: a random
token in the same cache that every change to users, groups, permissions or people replaces
(:func:`bump_auth_generation`, connected to their signals in ``itassets.apps``; bulk writes
call it themselves). A request reads the generation and the user's snapshot in one round
trip and uses the snapshot only when its tag is the current generation, else it runs the
queries and stores a new snapshot tagged with the generation it read *before* them. A change
replaces the generation at once and again when its transaction commits, so a snapshot built
from data read before the commit is never taken for current; a snapshot built inside a
transaction is stored only when that transaction commits. So a changed role, permission,
password, active flag or person takes effect on the next request, as it did without the
cache. ``AUTH_SNAPSHOT_SECONDS`` bounds a snapshot's life (0: no snapshot, two queries).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache as django_cache
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.transaction import TransactionManagementError

from .precompiled import GetByPk
from .roles import ROLE_BITS, users_with_roles

logger = logging.getLogger(__name__)

# The reverse one-to-one of assets.Person.user (the person a login user is).
PERSON_RELATION = "person"


@cache
def _user_get() -> GetByPk:
    """The session user's lookup, compiled once (see :mod:`itassets.precompiled`)."""
    return GetByPk(_user_queryset())


def person_relation():
    """The ``OneToOneRel`` from the user model to its person, or None without one."""
    for relation in get_user_model()._meta.related_objects:
        if relation.one_to_one and relation.get_accessor_name() == PERSON_RELATION:
            return relation
    return None


@cache
def _user_queryset():
    """Built once: constructing the six EXISTS clauses cost more than running the query."""
    queryset = users_with_roles()
    if person_relation() is not None:
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


# --- the auth snapshot ----------------------------------------------------------------------


def _key_prefix() -> str:
    # The database's name is part of the keys: test runs (one database each) share a Redis.
    return f"auth:{connections[DEFAULT_DB_ALIAS].settings_dict['NAME']}:"


def _generation_key() -> str:
    return _key_prefix() + "generation"


def _bump_now() -> None:
    try:
        django_cache.set(_generation_key(), secrets.token_hex(8), None)
    except Exception:
        # The cache (Redis) is down: no request can read a snapshot (nor a session) until it
        # is back. Writes still succeed, e.g. `migrate`, which runs before Redis may be up;
        # AUTH_SNAPSHOT_SECONDS bounds what a Redis restarted with its old data could serve.
        logger.error("auth generation not replaced: the cache is unavailable", exc_info=True)


def bump_auth_generation(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Make every auth snapshot stale: call after any write that changes a user, their groups
    or permissions, a group's permissions or a person, which the model signals do not see
    (``bulk_create``, ``bulk_update``, ``QuerySet.update``, raw SQL).

    The generation is replaced now (requests after this one, and tests that roll back) and
    again when the surrounding transaction commits (requests that read the old rows before
    the commit); one commit-time bump per transaction is enough."""
    _bump_now()
    db = connections[using]
    if db.in_atomic_block and not any(entry[1] is _bump_now for entry in db.run_on_commit):
        transaction.on_commit(_bump_now, using=using)


def auth_changed(sender, **kwargs) -> None:
    """Signal receiver (post_save, post_delete, m2m_changed, post_migrate)."""
    action = kwargs.get("action")
    if action is not None and not action.startswith("post_"):
        return  # m2m_changed: once, after the change
    bump_auth_generation(using=kwargs.get("using") or DEFAULT_DB_ALIAS)


@cache
def _layout():
    """Field names of the user row and person row a snapshot stores, in model field order."""
    relation = person_relation()
    user_fields = [f.attname for f in get_user_model()._meta.concrete_fields]
    person_fields = (
        [f.attname for f in relation.related_model._meta.concrete_fields] if relation else []
    )
    return user_fields, relation, person_fields


def _snapshot_of(user, generation: str) -> tuple:
    user_fields, relation, person_fields = _layout()
    person = None
    if relation is not None:
        person = relation.get_cached_value(user, default=None)
    bits = getattr(user, ROLE_BITS, None)
    return (
        generation,
        tuple(getattr(user, name) for name in user_fields),
        None if bits is None else int(bits),
        None if person is None else tuple(getattr(person, name) for name in person_fields),
        None,  # permissions: added by the first has_perm
    )


def _user_of(snapshot: tuple):
    """The user object the queries would have given (roles, person and permissions loaded)."""
    user_fields, relation, person_fields = _layout()
    _generation, row, bits, person_row, permissions = snapshot
    user = get_user_model().from_db(DEFAULT_DB_ALIAS, user_fields, row)
    setattr(user, ROLE_BITS, bits)
    if relation is not None:
        person = None
        if person_row is not None:
            person = relation.related_model.from_db(DEFAULT_DB_ALIAS, person_fields, person_row)
            relation.field.set_cached_value(person, user)
        relation.set_cached_value(user, person)
    if permissions is not None:
        user._perm_cache = set(permissions)
    return user


def _store(user, key: str, snapshot: tuple) -> None:
    """Keep ``snapshot`` for ``user``, once the data it was read from is committed."""
    user._auth_snapshot = (key, snapshot)
    seconds = settings.AUTH_SNAPSHOT_SECONDS

    def write():
        django_cache.set(key, snapshot, seconds)

    # At once outside a transaction; under manual transaction management, nothing is kept.
    with contextlib.suppress(TransactionManagementError):
        transaction.on_commit(write)


def _load_user(pk):
    """The user with primary key ``pk`` from their snapshot, or from the database (and a new
    snapshot kept). None when there is no such user."""
    generation_key = _generation_key()
    key = f"{_key_prefix()}user:{pk}"
    found = django_cache.get_many([generation_key, key])
    generation, snapshot = found.get(generation_key), found.get(key)
    if generation is not None and snapshot is not None and snapshot[0] == generation:
        user = _user_of(snapshot)
        user._auth_snapshot = (key, snapshot)
        return user
    if generation is None:  # first use, or evicted: a new one, unlike any snapshot's
        django_cache.add(generation_key, secrets.token_hex(8), None)
        generation = django_cache.get(generation_key)
    user = _user_get().get(pk)
    if user is not None and generation is not None:
        _store(user, key, _snapshot_of(user, generation))
    return user


class RolesModelBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            pk = get_user_model()._meta.pk.get_prep_value(user_id)
        except (ValueError, TypeError):  # a session holding something else than an id
            return None
        user = _load_user(pk) if settings.AUTH_SNAPSHOT_SECONDS else _user_get().get(pk)
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
            kept = getattr(user_obj, "_auth_snapshot", None)
            if kept is not None and kept[1][4] is None:
                key, snapshot = kept
                _store(user_obj, key, (*snapshot[:4], frozenset(user_obj._perm_cache)))
        return user_obj._perm_cache
