"""Role groups and their permissions are (re)applied after every migrate and flush."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from itassets.roles import ROLES


@pytest.mark.django_db(transaction=True)
def test_flush_brings_role_groups_and_permissions_back():
    # given: a database emptied the way a transactional test ends
    call_command("flush", verbosity=0, interactive=False)

    # when: nothing else — flush sends post_migrate

    # then
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(
        r.group for r in ROLES.values()
    )
    clerk = Group.objects.get(name=ROLES["clerk"].group)
    assert Permission.objects.filter(content_type__app_label="assets").exists()
    assert clerk.permissions.filter(content_type__app_label="assets").count() == (
        Permission.objects.filter(content_type__app_label="assets").count()
    )
    assert Group.objects.get(name=ROLES["employee"].group).permissions.count() == 0
