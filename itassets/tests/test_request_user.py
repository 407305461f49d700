"""The request's user (itassets.auth.RolesModelBackend): loaded with their roles and person in
one query, permissions in one more, and a changed role or person link takes effect on the next
request. (These tests never commit, so no auth snapshot is kept: test_auth_snapshot.py.)"""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from assets.selectors import person_for
from assets.tests.factories import AssetFactory, PersonFactory
from itassets.auth import RolesModelBackend
from itassets.roles import ADMIN, CLERK, DEPT_HEAD, EMPLOYEE, ROLES, user_role_slugs, user_scope

pytestmark = pytest.mark.django_db


def _group(slug: str) -> Group:
    return Group.objects.get(name=ROLES[slug].group)


def test_the_users_roles_and_person_come_with_the_user_query(make_user, django_assert_num_queries):
    # given: a department head and clerk linked to a person
    user = make_user(DEPT_HEAD)
    user.groups.add(_group(CLERK))
    person = PersonFactory(user=user)
    # when: the one query of the session's user
    with django_assert_num_queries(1):
        loaded = RolesModelBackend().get_user(user.pk)
    # then: roles, scope and person need no query of their own
    with django_assert_num_queries(0):
        assert user_role_slugs(loaded) == {DEPT_HEAD, CLERK}
        assert user_scope(loaded) == ROLES[CLERK].scope
        assert person_for(loaded) == person


def test_a_user_without_roles_or_person_costs_no_more_queries(make_user, django_assert_num_queries):
    user = make_user()
    loaded = RolesModelBackend().get_user(user.pk)
    with django_assert_num_queries(0):
        assert user_role_slugs(loaded) == set()
        assert user_scope(loaded) is None
        assert person_for(loaded) is None


def test_roles_of_a_non_role_group_are_ignored_and_a_superuser_is_an_admin(
    make_user, django_user_model
):
    # given: a group whose name is not a role's, and a superuser in no group
    user = make_user(EMPLOYEE)
    user.groups.add(Group.objects.create(name=f"{ROLES[CLERK].group}x"))
    boss = django_user_model.objects.create_superuser("boss", password="Passw0rd!2026")
    # then
    assert user_role_slugs(RolesModelBackend().get_user(user.pk)) == {EMPLOYEE}
    assert user_role_slugs(RolesModelBackend().get_user(boss.pk)) == {ADMIN}


def test_an_unknown_or_inactive_user_is_not_loaded(make_user):
    inactive = make_user(CLERK, is_active=False)
    assert RolesModelBackend().get_user(inactive.pk) is None
    assert RolesModelBackend().get_user(inactive.pk + 1000) is None


def test_a_role_taken_away_applies_on_the_next_request(client_as):
    # given: a clerk who has just opened the register
    client = client_as(CLERK)
    assert client.get("/assets/").status_code == 200
    # when: the clerk group is removed
    client.user.groups.remove(_group(CLERK))
    # then: the next request no longer sees the register
    assert client.get("/assets/").status_code == 403


def test_a_role_given_applies_on_the_next_request(client_as):
    # given: a user without a role
    client = client_as()
    other = AssetFactory()
    assert client.get(other.get_absolute_url()).status_code == 404
    # when
    client.user.groups.add(_group(CLERK))
    # then
    assert client.get(other.get_absolute_url()).status_code == 200


def test_a_person_linked_applies_on_the_next_request(client_as):
    # given: an employee without a staff record sees no "My assets" entry
    client = client_as(EMPLOYEE)
    assert 'href="/me/assets/"' not in client.get("/").content.decode()
    # when: the clerk links a person to the account
    PersonFactory(user=client.user)
    # then
    assert 'href="/me/assets/"' in client.get("/").content.decode()


def _reset_permission_caches(user):
    for name in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(name, None)


@pytest.mark.parametrize("kind", ["role", "direct", "other group", "superuser", "inactive", "none"])
def test_permissions_are_the_same_as_django_gives_in_one_query(
    make_user, django_user_model, django_assert_num_queries, kind
):
    # given
    user = make_user(CLERK if kind == "role" else None)
    extra = Permission.objects.get(codename="view_item", content_type__app_label="inventory")
    if kind == "direct":
        user.user_permissions.add(extra)
    elif kind == "other group":
        group = Group.objects.create(name="盘点小组")
        group.permissions.add(extra)
        user.groups.add(group)
    elif kind == "superuser":
        user = django_user_model.objects.create_superuser("root", password="Passw0rd!2026")
    elif kind == "inactive":
        user = make_user(CLERK, is_active=False)
    expected = ModelBackend().get_all_permissions(user)
    _reset_permission_caches(user)
    # when
    with django_assert_num_queries(0 if kind == "inactive" else 1):
        got = RolesModelBackend().get_all_permissions(user)
    # then
    assert got == expected
    assert (kind in ("role", "direct", "other group", "superuser")) == bool(got)


def test_has_perm_asks_the_database_once_per_request(client_as, django_assert_num_queries):
    client = client_as(CLERK)
    user = RolesModelBackend().get_user(client.user.pk)
    with django_assert_num_queries(1):
        assert user.has_perm("assets.change_asset")
        assert user.has_perm("assets.add_attachment")
        assert not user.has_perm("inventory.add_item")
