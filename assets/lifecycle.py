"""Asset lifecycle: the states and the table of named transitions between them.

Pure Python: no database access here. ``assets.services.asset_transition`` is the only writer
of ``Asset.status``.
"""

from dataclasses import dataclass

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


# --- Transitions ------------------------------------------------------------------------------
# Each transition names its allowed sources, its target (None: decided by a guard from the
# asset's state, e.g. "back to the state before repair"), the permission it needs, the form
# that collects its data (dotted path, so this module stays free of forms and the database),
# and whether it only starts an approval instead of changing the status at once.


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: frozenset
    target: str | None
    permission: str
    form: str
    needs_approval: bool = False
    # Fields of the asset this transition writes besides status (holder, department, ...).
    writes: tuple[str, ...] = ()
    # For target None: the remembered states the asset may go back to.
    previous_allowed: frozenset = frozenset()
    # Internal transitions are run by approvals, never offered as a button.
    internal: bool = False


NON_FINAL = frozenset(s for s in Status if s not in (Status.DISPOSED, Status.LOST))

_T = [
    Transition(
        "receive",
        _("Receive"),
        frozenset({Status.ORDERED}),
        Status.IN_STOCK,
        "assets.receive_asset",
        "assets.forms_lifecycle.ReceiveForm",
        writes=("location",),
    ),
    Transition(
        "assign",
        _("Assign"),
        frozenset({Status.IN_STOCK}),
        Status.IN_USE,
        "assets.assign_asset",
        "assets.forms_lifecycle.AssignForm",
        writes=("holder", "department", "location"),
    ),
    Transition(
        "loan",
        _("Loan"),
        frozenset({Status.IN_STOCK}),
        Status.ON_LOAN,
        "assets.assign_asset",
        "assets.forms_lifecycle.LoanForm",
        writes=("holder", "department", "location"),
    ),
    Transition(
        "return",
        _("Return"),
        frozenset({Status.IN_USE, Status.ON_LOAN}),
        Status.IN_STOCK,
        "assets.assign_asset",
        "assets.forms_lifecycle.ReturnForm",
        writes=("holder", "department", "location"),
    ),
    Transition(
        "transfer",
        _("Transfer"),
        frozenset({Status.IN_USE}),
        Status.IN_USE,
        "assets.assign_asset",
        "assets.forms_lifecycle.TransferForm",
        writes=("holder", "department", "location"),
    ),
    Transition(
        "relocate",
        _("Move"),
        frozenset({Status.IN_STOCK}),
        Status.IN_STOCK,
        "assets.assign_asset",
        "assets.forms_lifecycle.RelocateForm",
        writes=("location",),
    ),
    Transition(
        "send_to_repair",
        _("Send to repair"),
        frozenset({Status.IN_STOCK, Status.IN_USE, Status.ON_LOAN}),
        Status.IN_REPAIR,
        "assets.repair_asset",
        "assets.forms_lifecycle.SendToRepairForm",
    ),
    Transition(
        "repair_done",
        _("Repaired"),
        frozenset({Status.IN_REPAIR}),
        None,
        "assets.repair_asset",
        "assets.forms_lifecycle.RepairDoneForm",
        previous_allowed=frozenset({Status.IN_STOCK, Status.IN_USE, Status.ON_LOAN}),
    ),
    Transition(
        "repair_failed",
        _("Repair failed"),
        frozenset({Status.IN_REPAIR}),
        Status.PENDING_DISPOSAL,
        "assets.repair_asset",
        "assets.forms_lifecycle.RepairDoneForm",
    ),
    Transition(
        "request_disposal",
        _("Request disposal"),
        frozenset({Status.IN_STOCK, Status.IN_REPAIR}),
        Status.PENDING_DISPOSAL,
        "assets.request_disposal_asset",
        "assets.forms_lifecycle.RequestDisposalForm",
        needs_approval=True,
    ),
    Transition(
        "dispose",
        _("Dispose"),
        frozenset({Status.PENDING_DISPOSAL}),
        Status.DISPOSED,
        "assets.dispose_asset",
        "assets.forms_lifecycle.DisposeForm",
        writes=("holder", "department"),
    ),
    Transition(
        "cancel_disposal",
        _("Cancel disposal"),
        frozenset({Status.PENDING_DISPOSAL}),
        Status.IN_STOCK,
        "assets.request_disposal_asset",
        "assets.forms_lifecycle.NoteForm",
    ),
    Transition(
        "report_lost",
        _("Report lost"),
        NON_FINAL,
        Status.LOST,
        "assets.report_lost_asset",
        "assets.forms_lifecycle.NoteForm",
        needs_approval=True,
    ),
    Transition(
        "found",
        _("Found"),
        frozenset({Status.LOST}),
        Status.IN_STOCK,
        "assets.report_lost_asset",
        "assets.forms_lifecycle.ReceiveForm",
        writes=("location",),
    ),
]
_T.append(
    Transition(
        "reject_disposal",
        _("Disposal rejected"),
        frozenset({Status.PENDING_DISPOSAL}),
        None,
        "assets.approve_asset_request",
        "assets.forms_lifecycle.NoteForm",
        previous_allowed=frozenset({Status.IN_STOCK, Status.IN_REPAIR}),
        internal=True,
    )
)
TRANSITIONS: dict[str, Transition] = {t.name: t for t in _T}

# Custom permissions the transitions use (declared on Asset.Meta.permissions).
TRANSITION_PERMISSIONS = [
    ("receive_asset", _("Can receive assets")),
    ("assign_asset", _("Can assign, loan, return and transfer assets")),
    ("repair_asset", _("Can send assets to repair and close repairs")),
    ("request_disposal_asset", _("Can request and cancel disposal")),
    ("dispose_asset", _("Can dispose of assets")),
    ("report_lost_asset", _("Can report assets lost and found")),
    ("approve_asset_request", _("Can approve lifecycle requests")),
]


class DisposalMethod(models.TextChoices):
    """How a disposed asset left the organisation (``dispose`` transition)."""

    SALE = "sale", _("Sale")
    RECYCLING = "recycling", _("Recycling")
    DONATION = "donation", _("Donation")
    DESTRUCTION = "destruction", _("Destruction")


class TransitionNotAllowed(Exception):
    """The transition does not start from the asset's status (message is translatable)."""


def allowed(status: str, name: str) -> bool:
    t = TRANSITIONS.get(name)
    return t is not None and status in t.sources


def available(status: str) -> list[Transition]:
    """Transitions a user may start from ``status`` (not internal ones), in table order."""
    return [t for t in _T if status in t.sources and not t.internal]


def target_of(name: str, status: str, *, previous: str | None = None) -> str:
    """The state a transition leads to from ``status``; raises TransitionNotAllowed."""
    t = TRANSITIONS.get(name)
    if t is None:
        raise TransitionNotAllowed(_("Unknown transition “%(name)s”.") % {"name": name})
    if status not in t.sources:
        raise TransitionNotAllowed(
            _("“%(transition)s” is not possible while the asset is “%(status)s”.")
            % {"transition": t.label, "status": Status(status).label}
        )
    if t.target is not None:
        return t.target
    # repair_done / reject_disposal: back to where the asset was before (the repair order or
    # the approval request remembers it); in stock when that is unknown.
    if previous in t.previous_allowed:
        return previous
    return Status.IN_STOCK
