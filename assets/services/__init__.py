"""Writes of the assets app, one module per area; this package re-exports their public names.

- register.py: tags, asset create/update, attachments, preferences, tree names.
- lifecycle.py: ``asset_transition`` (the only writer of ``Asset.status``), bulk transitions,
  handover receipts and their acceptance, repair orders.
- approvals.py / requests.py: approval requests and employees' asset requests.

Import from ``assets.services`` or from the module itself.
"""

from .approvals import approval_cancel, approval_decide, approval_request
from .lifecycle import (
    HANDOVER_TRANSITIONS,
    asset_transition,
    asset_transition_bulk,
    document_number,
    handover_accept,
    handover_pdf_store,
    repair_number_allocate,
)
from .register import (
    ALLOWED_TYPES,
    THUMBNAIL_SIZE,
    asset_create,
    asset_tags_allocate,
    asset_update,
    attachment_add,
    attachment_validate,
    tag_prefix,
    tree_names_refresh,
    user_preference_set,
)
from .requests import (
    asset_request_cancel,
    asset_request_decide,
    asset_request_fulfil,
    asset_request_submit,
    asset_return_request,
    repair_report,
)

__all__ = [
    "ALLOWED_TYPES",
    "HANDOVER_TRANSITIONS",
    "THUMBNAIL_SIZE",
    "approval_cancel",
    "approval_decide",
    "approval_request",
    "asset_create",
    "asset_request_cancel",
    "asset_request_decide",
    "asset_request_fulfil",
    "asset_request_submit",
    "asset_return_request",
    "asset_tags_allocate",
    "asset_transition",
    "asset_transition_bulk",
    "asset_update",
    "attachment_add",
    "attachment_validate",
    "document_number",
    "handover_accept",
    "handover_pdf_store",
    "repair_number_allocate",
    "repair_report",
    "tag_prefix",
    "tree_names_refresh",
    "user_preference_set",
]
