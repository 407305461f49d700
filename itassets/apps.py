from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
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
        _connect_auth_snapshot_signals()


def _connect_auth_snapshot_signals():
    """Every change to what an auth snapshot holds replaces the auth generation
    (itassets/auth.py): users, group memberships, permissions, groups' permissions, groups,
    the linked people, and migrations (new permissions, the test flush)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from .auth import auth_changed, person_relation

    user_model = get_user_model()
    models = [user_model, Group, Permission]
    relation = person_relation()
    if relation is not None:
        models.append(relation.related_model)
    for model in models:
        for signal in (post_save, post_delete):
            uid = f"itassets.auth.{model._meta.label}"
            signal.connect(auth_changed, sender=model, dispatch_uid=uid)
    for m2m in (user_model.groups, user_model.user_permissions, Group.permissions):
        through = m2m.through
        m2m_changed.connect(
            auth_changed, sender=through, dispatch_uid=f"itassets.auth.{through._meta.label}"
        )
    post_migrate.connect(auth_changed, dispatch_uid="itassets.auth.migrate")


class ItassetsAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "itassets.admin_site.ItassetsAdminSite"
