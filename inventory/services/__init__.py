"""Writes of the inventory app: stock documents and requisitions. One module per area;
this package re-exports their public names.

- common.py: rounding, permissions, errors (``StockShortage``, ``DocumentInvalid``), results.
- validation.py: parsing and checking document input.
- documents.py: drafts, posting, reversal.
- requisitions.py: submit, decide, fulfil, cancel.


Documents
    ``document_create`` validates and saves a draft; ``document_update`` / ``document_delete``
    change or drop a draft; ``document_post`` posts it; ``document_create_and_post`` does both
    in one transaction (scanners, requisition fulfilment: a refusal leaves nothing behind);
    ``document_reverse`` posts a reversing document.

Posting (``_post``) is the only code that changes stock. In one transaction it:

1. locks the document row (``select_for_update``): a second post of the same document waits,
   then finds it posted and returns ``PostResult(posted=False, message=...)``: a no-op;
2. locks the requisition it fulfils, if any;
3. locks the stock rows it touches one by one in a fixed order, sorted by
   ``(item_id, warehouse_id)``, so two postings over overlapping rows cannot deadlock. A
   missing row that receives stock is created first by an upsert (``INSERT ... ON DUPLICATE
   KEY UPDATE``, which takes the row's exclusive lock at once and tolerates a concurrent
   insert); a missing row that would give stock means none is available;
4. applies the lines in order with moving average cost (see ``_Balance``), refusing to take
   any balance below zero (``StockShortage``, naming item, warehouse, available and requested);
5. writes the stock rows, one ``LedgerEntry`` per movement (running balance and value), the
   lines' costs, and the document's number (``RK-20261121-0001``, per type and day, from the
   race-safe sequence of ``assets.services.lifecycle.document_number``, taken last so the
   sequence row is locked only for the end of the transaction);
6. schedules the signals (``inventory.signals``) on commit.

The database's check constraints (quantity and value ≥ 0) are the second guard: if they
fire, the posting fails with the same ``StockShortage`` message and nothing is saved.

Valuation: moving average cost per (item, warehouse). Receipts (and every other inflow that
carries a cost) add ``amount = quantity × unit cost`` to the value and recompute
``average = value / quantity`` (4 places); outflows take ``quantity × average`` (2 places,
never more than the value held; all of it when the balance reaches zero). Transfers move the
value they take out. See docs/decisions.md.
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
