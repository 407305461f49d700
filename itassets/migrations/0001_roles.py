"""Create the role groups; their permissions are applied by roles.sync_roles after migrate."""

from django.db import migrations

ROLE_GROUPS = ["系统管理员", "资产管理员", "仓库管理员", "部门负责人", "员工", "审计员"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_groups, remove_groups)]
