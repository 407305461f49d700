from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = _("Inventory")

    def ready(self):
        from .services.stocktake_confirmations import register_notifications

        register_notifications()  # stocktake self-confirmation requests

        from . import notify  # requisitions → notifications.services (event types, receiver)

        notify.connect()
