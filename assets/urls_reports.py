"""Report pages, mounted at ``/reports/`` (namespace ``reports``)."""

from django.urls import path

from .views import reports

app_name = "reports"

urlpatterns = [
    path("depreciation/", reports.depreciation, name="depreciation"),
]
