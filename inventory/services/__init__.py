"""Writes of the inventory app: stock documents and requisitions. One module per area;
this package re-exports their public names.

- common.py: rounding, permissions, errors (``StockShortage``, ``DocumentInvalid``), results.
- validation.py: parsing and checking document input.
- documents.py: drafts, posting, reversal.
- requisitions.py: submit, decide, fulfil, cancel.

The posting procedure (locks, order, valuation) is described in documents.py; the rules and
their reasons in docs/decisions.md (10-12).
"""

from .common import (
    PERM_ADJUST,
    PERM_FULFIL,
    PERM_POST,
    PERM_REVERSE,
    DocumentInvalid,
    PostResult,
    StockShortage,
    money,
    unit_cost_round,
    user_manages_warehouse,
)
from .documents import (
    document_create,
    document_create_and_post,
    document_delete,
    document_post,
    document_reverse,
    document_update,
    stock_available,
)
from .requisitions import (
    requisition_cancel,
    requisition_decide,
    requisition_fulfil,
    requisition_submit,
)
from .validation import document_validate, parse_quantity

__all__ = [
    "PERM_ADJUST",
    "PERM_FULFIL",
    "PERM_POST",
    "PERM_REVERSE",
    "DocumentInvalid",
    "PostResult",
    "StockShortage",
    "document_create",
    "document_create_and_post",
    "document_delete",
    "document_post",
    "document_reverse",
    "document_update",
    "document_validate",
    "money",
    "parse_quantity",
    "requisition_cancel",
    "requisition_decide",
    "requisition_fulfil",
    "requisition_submit",
    "stock_available",
    "unit_cost_round",
    "user_manages_warehouse",
]
