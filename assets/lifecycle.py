"""Asset lifecycle: states (and, with the lifecycle issue, the transition table).

Pure Python: no database access here. ``assets.services.asset_transition`` is the only writer
of ``Asset.status``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    ORDERED = "ordered", _("On order")
    IN_STOCK = "in_stock", _("In stock / idle")
    IN_USE = "in_use", _("In use")
    ON_LOAN = "on_loan", _("On loan")
    IN_REPAIR = "in_repair", _("In repair")
    PENDING_DISPOSAL = "pending_disposal", _("Pending disposal")
    DISPOSED = "disposed", _("Disposed")
    LOST = "lost", _("Lost")


# Bootstrap colour of each state's badge.
STATUS_BADGE = {
    Status.ORDERED: "secondary",
    Status.IN_STOCK: "info",
    Status.IN_USE: "success",
    Status.ON_LOAN: "primary",
    Status.IN_REPAIR: "warning",
    Status.PENDING_DISPOSAL: "warning",
    Status.DISPOSED: "dark",
    Status.LOST: "danger",
}

FINAL_STATES = frozenset({Status.DISPOSED})
# States a new asset may start in (creation form, imports).
INITIAL_STATES = frozenset({Status.ORDERED, Status.IN_STOCK, Status.IN_USE})
