"""Signals of the inventory app, for notifications.

Each is sent once, after the transaction that made the change has committed
(``transaction.on_commit``), with ids only: a receiver reads what it needs itself and always
finds the new state. Receivers run with ``send_robust``; a failing receiver is logged and
never undoes the change.

- ``document_posted(sender=Document, document_id)``
- ``document_reversed(sender=Document, document_id, reversal_id)``
- ``stock_below_safety(sender=Stock, stock_id, item_id, warehouse_id)``: a posting took the
  balance of an (item, warehouse) from at or above the item's safety stock to below it.
- ``requisition_changed(sender=Requisition, requisition_id, state)``: submitted, approved,
  rejected, (partly / fully) issued, cancelled, or an issue against it was reversed.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

document_posted = Signal()
document_reversed = Signal()
stock_below_safety = Signal()
requisition_changed = Signal()


def send_on_commit(signal: Signal, sender, **kwargs) -> None:
    """Send ``signal`` once the current transaction commits (at once outside one)."""

    def _send() -> None:
        for receiver, response in signal.send_robust(sender=sender, **kwargs):
            if isinstance(response, Exception):
                logger.error(
                    "inventory signal receiver %r failed (%s)",
                    receiver,
                    kwargs,
                    exc_info=response,
                )

    transaction.on_commit(_send)
