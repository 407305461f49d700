from django.urls import path

from .views import approvals, detail, export, forms, labels, lifecycle, me, requests
from .views import list as list_views

app_name = "assets"

# Fixed-prefix routes first; the catch-all "<str:tag>/" routes last.
urlpatterns: list = [
    path("", list_views.asset_list, name="list"),
    path("columns/", list_views.asset_columns, name="columns"),
    path("new/", forms.asset_create, name="create"),
    path("models/options/", forms.model_options, name="model_options"),
    path("labels/", labels.labels, name="labels"),
    path("export.<str:fmt>", export.asset_export, name="export"),
    path("unconfirmed/", me.unconfirmed, name="unconfirmed"),
    path("bulk/<str:transition>/", lifecycle.asset_transition_bulk, name="bulk"),
    path("handovers/<int:pk>.pdf", lifecycle.handover_pdf, name="handover_pdf"),
    path("repairs/", lifecycle.repair_list, name="repair_list"),
    path("repairs/<int:pk>/", lifecycle.repair_detail, name="repair_detail"),
    path("<str:tag>/", detail.asset_detail, name="detail"),
    path("<str:tag>/edit/", forms.asset_edit, name="edit"),
    path("<str:tag>/label.pdf", labels.label, name="label"),
    path("<str:tag>/qr.svg", detail.asset_qr, name="qr"),
    path("<str:tag>/do/<str:transition>/", lifecycle.asset_transition, name="transition"),
    path("<str:tag>/attachments/", detail.attachment_upload, name="attachment_upload"),
    path("<str:tag>/attachments/<int:pk>/", detail.attachment_download, name="attachment"),
    path(
        "<str:tag>/attachments/<int:pk>/thumb/",
        detail.attachment_thumb,
        name="attachment_thumb",
    ),
]

# Approvals, self-service and asset requests live at top-level paths; itassets/urls.py mounts
# each list under its own prefix and namespace.
# /approvals/ (namespace "approvals")
approval_urlpatterns: list = [
    path("", approvals.approval_list, name="list"),
    path("<int:pk>/", approvals.approval_detail, name="detail"),
    path("<int:pk>/decide/", approvals.approval_decide, name="decide"),
    path("<int:pk>/cancel/", approvals.approval_cancel, name="cancel"),
]
# /me/ (namespace "me"): 我的资产 and 申领
me_urlpatterns: list = [
    path("assets/", me.my_asset_list, name="assets"),
    path("assets/<str:tag>/return/", me.return_request, name="return_request"),
    path("assets/<str:tag>/fault/", me.fault_report, name="fault_report"),
    path("handovers/<int:pk>/accept/", me.handover_accept, name="handover_accept"),
    path("requests/", requests.my_requests, name="requests"),
    path("requests/models/", requests.model_options, name="model_options"),
    path("requests/<int:pk>/cancel/", requests.my_request_cancel, name="request_cancel"),
]
# /requests/ (namespace "requests"): department heads decide, clerks fulfil
request_urlpatterns: list = [
    path("", requests.request_queue, name="list"),
    path("<int:pk>/decide/", requests.request_decide, name="decide"),
    path("<int:pk>/fulfil/", requests.request_fulfil, name="fulfil"),
]
