from django.urls import path

from .views import detail, forms, labels
from .views import list as list_views

app_name = "assets"

# Fixed-prefix routes first; the catch-all "<str:tag>/" routes last.
urlpatterns: list = [
    path("", list_views.asset_list, name="list"),
    path("columns/", list_views.asset_columns, name="columns"),
    path("new/", forms.asset_create, name="create"),
    path("models/options/", forms.model_options, name="model_options"),
    path("labels/", labels.labels, name="labels"),
    path("<str:tag>/", detail.asset_detail, name="detail"),
    path("<str:tag>/edit/", forms.asset_edit, name="edit"),
    path("<str:tag>/label.pdf", labels.label, name="label"),
    path("<str:tag>/attachments/", detail.attachment_upload, name="attachment_upload"),
    path("<str:tag>/attachments/<int:pk>/", detail.attachment_download, name="attachment"),
    path(
        "<str:tag>/attachments/<int:pk>/thumb/",
        detail.attachment_thumb,
        name="attachment_thumb",
    ),
]
