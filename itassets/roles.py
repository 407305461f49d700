"""Roles: the one place that says which groups exist, what each may do and what it may see.

Each role is a Django group (created by the data migration ``0001_roles``). Its permissions
are patterns over ``app_label.codename`` applied by :func:`sync_roles` after every
``migrate``, so later apps add their permissions here and nowhere else.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from django.utils.translation import gettext_lazy as _


class Scope(StrEnum):
    """What part of the register a user sees (applied in selectors, never in views)."""

    OWN = "own"
    DEPARTMENT = "department"
    DEPARTMENT_TREE = "department_tree"
    LOCATION = "location"
    ALL = "all"


SCOPE_RANK = [Scope.OWN, Scope.LOCATION, Scope.DEPARTMENT, Scope.DEPARTMENT_TREE, Scope.ALL]


@dataclass(frozen=True)
class Role:
    slug: str
    group: str  # the Group.name stored in the database (stable, Chinese)
    label: str
    scope: Scope
    permissions: tuple[str, ...] = field(default=())
    admin_site: bool = False


ADMIN = "admin"
CLERK = "clerk"
KEEPER = "keeper"
DEPT_HEAD = "dept_head"
EMPLOYEE = "employee"
AUDITOR = "auditor"

ROLES: dict[str, Role] = {
    r.slug: r
    for r in [
        Role(ADMIN, "系统管理员", _("System administrator"), Scope.ALL, ("*.*",), admin_site=True),
        Role(
            CLERK,
            "资产管理员",
            _("Asset clerk"),
            Scope.ALL,
            (
                "assets.*",
                "inventory.view_*",
                # Asset stocktakes (盘点): create, start, count, close, apply.
                "inventory.manage_stocktake",
                "inventory.count_stocktake",
                "notifications.view_*",
                "simple_history.*",
            ),
            admin_site=True,
        ),
        Role(KEEPER, "仓库管理员", _("Warehouse keeper"), Scope.LOCATION, ("inventory.*",)),
        Role(
            DEPT_HEAD,
            "部门负责人",
            _("Department head"),
            Scope.DEPARTMENT_TREE,
            ("assets.approve_asset_request",),
        ),
        Role(EMPLOYEE, "员工", _("Employee"), Scope.OWN, ()),
        Role(AUDITOR, "审计员", _("Auditor"), Scope.ALL, ("*.view_*",)),
    ]
}

# Permissions never granted through a role pattern (only a superuser has them).
_NEVER_BY_PATTERN = ("auth.*", "axes.*", "sessions.*", "contenttypes.*", "admin.*")


def role_permissions(role: Role, all_codes: list[str]) -> list[str]:
    """The ``app_label.codename`` strings a role's patterns match."""
    granted = []
    for code in all_codes:
        matches = any(fnmatch.fnmatchcase(code, p) for p in role.permissions)
        forbidden = role.slug != ADMIN and any(
            fnmatch.fnmatchcase(code, p) for p in _NEVER_BY_PATTERN
        )
        if matches and not forbidden:
            granted.append(code)
    if role.slug == AUDITOR:  # read everything, change nothing
        granted = [c for c in granted if c.split(".", 1)[1].startswith("view_")]
    return granted


def sync_roles(*, group_model=None, permission_model=None) -> None:
    """Create the role groups and set their permissions to exactly what ROLES says."""
    if group_model is None:
        from django.contrib.auth.models import Group as group_model
        from django.contrib.auth.models import Permission as permission_model
    perms = list(permission_model.objects.select_related("content_type"))
    by_code = {f"{p.content_type.app_label}.{p.codename}": p for p in perms}
    for role in ROLES.values():
        group, _created = group_model.objects.get_or_create(name=role.group)
        wanted = [by_code[c] for c in role_permissions(role, sorted(by_code))]
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, **kwargs) -> None:
    sync_roles()


ROLE_BITS = "_role_bits"


def users_with_roles(queryset=None):
    """Users annotated with their roles as one bit per role (``ROLES`` order), read by
    :func:`user_role_slugs` without a query of its own; ``itassets.auth.RolesModelBackend``
    loads every request's user this way.

    One scalar subquery in plain SQL: the ORM's six EXISTS clauses cost more to build than
    the whole query takes to run. Group names are parameters; the subquery refers to the user
    table by name, so the result must be the outermost query (no joins onto the users)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.models import IntegerField
    from django.db.models.expressions import RawSQL

    model = get_user_model()
    qn = connection.ops.quote_name
    membership = model.groups.through._meta
    user_column = membership.get_field("user").column
    group_column = membership.get_field("group").column
    cases = " ".join(f"WHEN %s THEN {1 << i}" for i in range(len(ROLES)))
    sql = (
        f"SELECT SUM(CASE g.{qn('name')} {cases} ELSE 0 END) "  # noqa: S608 (names only)
        f"FROM {qn(membership.db_table)} m "
        f"INNER JOIN {qn(Group._meta.db_table)} g ON g.{qn('id')} = m.{qn(group_column)} "
        f"WHERE m.{qn(user_column)} = {qn(model._meta.db_table)}.{qn(model._meta.pk.column)}"
    )
    names = [role.group for role in ROLES.values()]
    queryset = model._default_manager.all() if queryset is None else queryset
    bits = RawSQL(sql, names, output_field=IntegerField())  # noqa: S611 (no user input)
    return queryset.annotate(**{ROLE_BITS: bits})


def user_role_slugs(user) -> set[str]:
    """The role slugs of a user, cached on the user object for the request: read from the
    annotation of :func:`users_with_roles` when the user was loaded with it, else one query."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_role_slugs", None)
    if cached is None:
        bits = getattr(user, ROLE_BITS, False)
        if bits is not False:  # loaded with users_with_roles (NULL: in no group)
            bits = int(bits or 0)
            cached = {slug for i, slug in enumerate(ROLES) if bits & (1 << i)}
        else:
            by_group = {r.group: r.slug for r in ROLES.values()}
            names = user.groups.values_list("name", flat=True)
            cached = {by_group[n] for n in names if n in by_group}
        if user.is_superuser:
            cached.add(ADMIN)
        user._role_slugs = cached
    return cached


@cache
def _role_grants(slug: str, perm: str) -> bool:
    return bool(role_permissions(ROLES[slug], [perm]))


def role_grants(user, perm: str) -> bool:
    """Whether one of the user's roles grants ``perm``, decided from ROLES without a query
    (the role groups' permissions are exactly what ROLES says). For showing links and
    buttons only: the views behind them still check ``has_perm``."""
    return any(_role_grants(slug, perm) for slug in user_role_slugs(user))


def has_role(user, *slugs: str) -> bool:
    return bool(user_role_slugs(user) & set(slugs))


def user_scope(user) -> Scope | None:
    """The widest data scope any of the user's roles grants (None: sees nothing)."""
    scopes = [ROLES[s].scope for s in user_role_slugs(user)]
    if not scopes:
        return None
    return max(scopes, key=SCOPE_RANK.index)


def can_use_admin_site(user) -> bool:
    return bool(
        user.is_active
        and (user.is_superuser or any(ROLES[s].admin_site for s in user_role_slugs(user)))
    )
