"""URLs of the inventory app (namespace ``inventory``, mounted at /inventory/)."""

from django.urls import path

from . import views_api

app_name = "inventory"

urlpatterns = [
    path("api/issue/", views_api.issue, name="api_issue"),
    path("api/items/<int:pk>/ledger/", views_api.ledger, name="api_ledger"),
]
