"""The six role groups, their permissions, data scopes and who may use /admin/."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission

from itassets.roles import ROLES, Scope, can_use_admin_site, user_scope

pytestmark = pytest.mark.django_db


def _codes(queryset) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in queryset.select_related("content_type")
    }


def _group_codes(slug: str) -> set[str]:
    return _codes(Group.objects.get(name=ROLES[slug].group).permissions.all())


def test_the_six_role_groups_exist_after_migrations():
    # then
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "系统管理员",
        "资产管理员",
        "仓库管理员",
        "部门负责人",
        "员工",
        "审计员",
    }
    assert {slug: role.group for slug, role in ROLES.items()} == {
        "admin": "系统管理员",
        "clerk": "资产管理员",
        "keeper": "仓库管理员",
        "dept_head": "部门负责人",
        "employee": "员工",
        "auditor": "审计员",
    }


def test_admin_role_has_every_permission():
    # given
    everything = _codes(Permission.objects.all())
    non_auth = {c for c in everything if not c.startswith("auth.")}

    # then: every non-auth permission, and user/group management on top
    assert _group_codes("admin") == everything
    assert non_auth <= _group_codes("admin")
    assert "auth.change_user" in _group_codes("admin")


def test_auditor_has_only_view_permissions_on_everything_but_the_auth_internals():
    # given
    views = _codes(Permission.objects.filter(codename__startswith="view_"))
    internal = ("auth.", "axes.", "sessions.", "contenttypes.", "admin.")

    # then
    assert _group_codes("auditor") == {c for c in views if not c.startswith(internal)}
    assert all(c.split(".", 1)[1].startswith("view_") for c in _group_codes("auditor"))
    assert "assets.view_person" in _group_codes("auditor")
    assert "assets.change_person" not in _group_codes("auditor")


def test_clerk_manages_assets_and_reads_inventory():
    # given
    clerk = _group_codes("clerk")

    # then
    assert _codes(Permission.objects.filter(content_type__app_label="assets")) <= clerk
    assert not any(c.startswith(("auth.", "axes.")) for c in clerk)
    assert {c for c in clerk if c.startswith("inventory.")} == {
        c
        for c in _codes(Permission.objects.filter(content_type__app_label="inventory"))
        if c.startswith("inventory.view_")
    } | {"inventory.manage_stocktake", "inventory.count_stocktake"}  # asset stocktakes


def test_keeper_has_exactly_the_inventory_permissions():
    # then
    assert _group_codes("keeper") == _codes(
        Permission.objects.filter(content_type__app_label="inventory")
    )


def test_employee_has_no_model_permissions():
    # then: self-service is authorised by being the holder or requester, not by permissions
    assert _group_codes("employee") == set()


def test_department_head_may_only_approve():
    # then
    assert _group_codes("dept_head") == {"assets.approve_asset_request"}


@pytest.mark.parametrize(
    ("slug", "scope"),
    [
        ("admin", Scope.ALL),
        ("clerk", Scope.ALL),
        ("keeper", Scope.LOCATION),
        ("dept_head", Scope.DEPARTMENT_TREE),
        ("employee", Scope.OWN),
        ("auditor", Scope.ALL),
    ],
)
def test_user_scope_per_role(make_user, slug, scope):
    # given
    user = make_user(slug)

    # when / then
    assert user_scope(user) == scope


def test_user_scope_is_the_widest_of_several_roles(make_user):
    # given
    user = make_user("employee")
    user.groups.add(Group.objects.get(name=ROLES["dept_head"].group))

    # then
    assert user_scope(user) == Scope.DEPARTMENT_TREE


def test_user_without_a_role_sees_nothing(make_user):
    # then
    assert user_scope(make_user(None)) is None
    assert user_scope(AnonymousUser()) is None


def test_superuser_counts_as_system_administrator(django_user_model):
    # given
    root = django_user_model.objects.create_superuser("root", password="Passw0rd!2026")

    # then
    assert user_scope(root) == Scope.ALL
    assert can_use_admin_site(root) is True


def test_inactive_clerk_cannot_use_the_admin_site(make_user):
    # given
    clerk = make_user("clerk", is_active=False)

    # then
    assert can_use_admin_site(clerk) is False


@pytest.mark.parametrize(
    ("slug", "status"),
    [
        ("admin", 200),
        ("clerk", 200),
        ("keeper", 403),
        ("dept_head", 403),
        ("employee", 403),
        ("auditor", 403),
        (None, 403),
    ],
)
def test_admin_site_by_role(client, make_user, slug, status):
    # given: is_staff is never set; the role decides
    client.force_login(make_user(slug))

    # when
    response = client.get("/admin/")

    # then
    assert response.status_code == status


def test_admin_site_refusal_is_the_site_403_page(client, make_user):
    # given
    client.force_login(make_user("employee"))

    # when
    response = client.get("/admin/assets/")

    # then
    assert response.status_code == 403
    assert "您没有访问此页面的权限。如需开通，请联系系统管理员。" in response.content.decode()


def test_admin_site_sends_anonymous_users_to_the_site_login(client):
    # when
    response = client.get("/admin/assets/?q=x")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/assets/%3Fq%3Dx"


def test_admin_login_url_goes_to_the_site_login(client):
    # when
    response = client.get("/admin/login/?next=/admin/")

    # then
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"


def test_admin_login_url_sends_a_logged_in_clerk_into_the_admin(client, make_user):
    # given
    client.force_login(make_user("clerk"))

    # when
    plain = client.get("/admin/login/")
    with_next = client.get("/admin/login/?next=/admin/assets/")
    foreign = client.get("/admin/login/?next=https://evil.example.com/")

    # then: no redirect loop through the site login page
    assert plain["Location"] == "/admin/"
    assert with_next["Location"] == "/admin/assets/"
    assert foreign["Location"] == "/admin/"


def test_clerk_sees_only_what_the_role_allows_in_the_admin(client, make_user):
    # given
    client.force_login(make_user("clerk"))

    # when
    users = client.get("/admin/auth/user/")
    groups = client.get("/admin/auth/group/")

    # then
    assert users.status_code == 403
    assert groups.status_code == 403


def test_system_administrator_manages_users_in_the_admin(client, make_user):
    # given
    client.force_login(make_user("admin"))

    # when
    response = client.get("/admin/auth/user/")

    # then
    assert response.status_code == 200
