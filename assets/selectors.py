"""Reads of the register. The user's data scope is applied here and nowhere else."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from itassets.roles import Scope, user_scope

from .models import Asset, Department, Location, Person


def person_for(user) -> Person | None:
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_person_cache", False)
    if cached is False:
        cached = Person.objects.filter(user=user).first()
        user._person_cache = cached
    return cached


def subtree_ids(model, node_or_id) -> list[int]:
    """Ids of a tree node and all its descendants (one indexed path-prefix query)."""
    if node_or_id is None:
        return []
    node = (
        node_or_id if isinstance(node_or_id, model) else model.objects.filter(pk=node_or_id).first()
    )
    if node is None:
        return []
    return list(model.objects.filter(path__startswith=node.path).values_list("id", flat=True))


def headed_department_ids(person: Person | None) -> list[int]:
    """The departments a person heads, with all their sub-departments."""
    if person is None:
        return []
    heads = list(Department.objects.filter(head=person).values_list("path", flat=True))
    if not heads:
        return []
    q = Q()
    for path in heads:
        q |= Q(path__startswith=path)
    return list(Department.objects.filter(q).values_list("id", flat=True))


def asset_scope_q(user) -> Q | None:
    """A Q limiting assets to what ``user`` may see; None means nothing at all."""
    scope = user_scope(user)
    if scope is None:
        return None
    if scope == Scope.ALL:
        return Q()
    person = person_for(user)
    own = Q(holder=person) if person else Q(pk__in=[])
    if scope in (Scope.DEPARTMENT_TREE, Scope.DEPARTMENT):
        dept_ids = headed_department_ids(person)
        return own | Q(department_id__in=dept_ids) if dept_ids else own
    return own  # OWN, and LOCATION until warehouses have keepers (inventory issue)


def asset_queryset(*, user) -> QuerySet[Asset]:
    """All assets the user may see, with the relations list and detail pages show."""
    q = asset_scope_q(user)
    qs = Asset.objects.all()
    if q is None:
        return qs.none()
    return qs.filter(q)


def asset_get(*, user, tag: str) -> Asset | None:
    """One asset by tag if the user may see it (else None → the view answers 404)."""
    return (
        asset_queryset(user=user)
        .select_related(
            "model",
            "category",
            "manufacturer",
            "department",
            "holder",
            "location",
            "supplier",
            "created_by",
            "updated_by",
        )
        .filter(tag=tag)
        .first()
    )


def location_subtree_ids(location_id) -> list[int]:
    return subtree_ids(Location, location_id)
