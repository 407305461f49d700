"""Shared by the inventory services: rounding, limits, permissions, errors and results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from assets.services.lifecycle import (
    document_number,
    document_number_format,
    document_number_prefix,
)
from itassets.roles import ADMIN, has_role

from ..models import Document, DocumentType, Item, Requisition, Warehouse, format_quantity
from . import statements

Type = DocumentType
Status = Document.Status
ReqState = Requisition.State

CENT = Decimal("0.01")
COST_STEP = Decimal("0.0001")
QTY_STEP = Decimal("0.001")
ZERO = Decimal("0")
MAX_QUANTITY = Decimal("100000000000")  # 10^11: Decimal(14, 3)
MAX_MONEY = Decimal("10000000000000")  # 10^13: Decimal(16, 2)
MAX_LINES = 500

PERM_ADD = "inventory.add_document"
PERM_CHANGE = "inventory.change_document"
PERM_DELETE = "inventory.delete_document"
PERM_POST = "inventory.post_document"
PERM_REVERSE = "inventory.reverse_document"
PERM_ADJUST = "inventory.adjust_stock"
PERM_FULFIL = "inventory.fulfil_requisition"

# Types whose header names who receives (issue) or returns (return) the items.
PERSON_TYPES = (Type.ISSUE, Type.RETURN)
# Inflows whose cost must be given (others default to the current average).
COST_REQUIRED = (Type.RECEIPT,)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def unit_cost_round(value: Decimal) -> Decimal:
    return value.quantize(COST_STEP, rounding=ROUND_HALF_UP)


# --- Document numbers -------------------------------------------------------------------------


def number_allocate(kind: str, *, day: date) -> str:
    """The next number of a document type's daily series: ``CK-20261121-0001``.

    The series is the one ``assets.services.document_number`` advances (one ``TagSequence``
    row per prefix, one statement that also answers the new value). Race-safe and without
    gaps: the row stays locked until the caller's transaction ends, and a rolled-back posting
    gives its number back. Call it inside the posting's transaction, as late as possible.
    """
    return document_number(kind, today=day)


def number_series(kind: str, *, day: date) -> str:
    """The prefix of a type's daily series (``CK-20261121-``), for ``statements.post_new``,
    which advances the sequence inside its own statement; ``number_format`` makes the number."""
    return document_number_prefix(kind, today=day)


number_format = document_number_format


# --- Errors and results -----------------------------------------------------------------------


class StockShortage(ValidationError):
    """A posting would take a balance below zero. Views answer 409 with ``message``."""

    def __init__(self, *, item: Item, warehouse: Warehouse, available, requested):
        self.item, self.warehouse = item, warehouse
        self.available, self.requested = available, requested
        self.message_text = _(
            "Not enough stock of %(item)s in %(warehouse)s: %(available)s available, "
            "%(requested)s requested."
        ) % {
            "item": item,
            "warehouse": warehouse,
            "available": f"{format_quantity(available)}{item.unit}",
            "requested": f"{format_quantity(requested)}{item.unit}",
        }
        super().__init__(self.message_text, code="insufficient_stock")


class DocumentInvalid(ValidationError):
    """Invalid document input. ``message_dict`` holds header fields and ``lines`` (messages
    starting "Line n:"); ``line_errors`` maps a line's index to ``{field: [messages]}`` for
    forms that show errors next to each line's fields."""

    def __init__(self, errors: dict[str, list[str]], line_errors: dict[int, dict[str, list]]):
        self.line_errors = line_errors
        flat = {k: list(v) for k, v in errors.items()}
        for index in sorted(line_errors):
            for messages in line_errors[index].values():
                for message in messages:
                    flat.setdefault("lines", []).append(
                        _("Line %(n)s: %(message)s") % {"n": index + 1, "message": message}
                    )
        super().__init__(flat)


@dataclass
class PostResult:
    """What ``document_post`` did: ``posted`` is False when it was already posted (no-op)."""

    document: Document
    posted: bool
    message: str


# --- Permissions ------------------------------------------------------------------------------


def _is_admin(actor) -> bool:
    return actor is not None and (actor.is_superuser or has_role(actor, ADMIN))


def user_manages_warehouse(actor, warehouse: Warehouse | int, *, keeps: bool | None = None) -> bool:
    """Administrators manage every warehouse; a keeper the ones listing them as keeper.
    ``keeps``: whether ``actor`` is a keeper of ``warehouse``, if already read (the scan's
    ``statements.scan_read``); None: asked here."""
    if actor is None:
        return True  # the system (tasks, data migrations)
    if not getattr(actor, "is_authenticated", False):
        return False
    if keeps is None:
        warehouse_id = warehouse.pk if isinstance(warehouse, Warehouse) else warehouse
        keeps = statements.user_keeps_warehouse(actor.pk, warehouse_id)
    return keeps or _is_admin(actor)


def _require_perm(actor, perm: str, message: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDenied(message)


def _require_manages(actor, warehouse: Warehouse, *, keeps: bool | None = None) -> None:
    if not user_manages_warehouse(actor, warehouse, keeps=keeps):
        raise PermissionDenied(
            _("You are not a keeper of %(warehouse)s.") % {"warehouse": warehouse}
        )


def _check_may_post(actor, document: Document, *, keeper_checked: bool = False) -> None:
    _require_perm(actor, PERM_POST, _("You are not allowed to post stock documents."))
    if document.type == Type.ADJUSTMENT:
        _require_perm(actor, PERM_ADJUST, _("You are not allowed to make stock adjustments."))
    if not keeper_checked:
        _require_manages(actor, document.warehouse)
