from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ItassetsConfig(AppConfig):
    default = True
    name = "itassets"
    verbose_name = _("系统")

    def ready(self):
        from . import roles

        # Permissions only exist after every app migrated, so the role -> permission
        # table in roles.py is applied after each migrate run (the groups themselves are
        # created by the data migration itassets/migrations/0001_roles.py).
        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)


class ItassetsAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "itassets.admin_site.ItassetsAdminSite"
