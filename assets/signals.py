"""Signals of the assets app.

``asset_transitioned(sender=Asset, event_id=<AssetEvent pk>)`` is sent once per lifecycle
transition, after the transaction that wrote it has committed (``transaction.on_commit``), so a
receiver (notifications) always finds the event and the asset in their new state. Receivers
get ids, never instances: they read what they need themselves.
"""

from django.dispatch import Signal

asset_transitioned = Signal()

# Approvals, asset requests and self-service (assets.services.approvals / requests), also sent
# on commit with ids only:
# approval_requested(sender=ApprovalRequest, approval_id)
# approval_decided(sender=ApprovalRequest, approval_id, step_id, decision, final)
# asset_request_changed(sender=AssetRequest, request_id, state)
# repair_reported(sender=RepairOrder, repair_id)
# asset_return_requested(sender=Asset, event_id)
approval_requested = Signal()
approval_decided = Signal()
asset_request_changed = Signal()
repair_reported = Signal()
asset_return_requested = Signal()
