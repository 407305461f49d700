from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ItassetsConfig(AppConfig):
    default = True
    name = "itassets"
    verbose_name = _("System")

    def ready(self):
        from . import roles

        # post_migrate is sent once per app that has a models module, and each app's
        # permissions are created by its own signal (itassets' own signal comes before the
        # domain apps', so a receiver limited to sender=self would miss their permissions).
        # The role -> permission table in roles.py is therefore applied after the last such
        # app, when every permission exists; this also runs
        # after the flush that ends each transactional test. The groups themselves are
        # created by the data migration itassets/migrations/0001_roles.py.
        def sync_roles_after_last_app(sender, **kwargs):
            with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
            if with_models and sender is with_models[-1]:
                roles.sync_roles_after_migrate(sender, **kwargs)

        post_migrate.connect(
            sync_roles_after_last_app, dispatch_uid="itassets.roles.sync", weak=False
        )


class ItassetsAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "itassets.admin_site.ItassetsAdminSite"
