"""``/imports/`` (namespace "imports") and ``/exports/`` (namespace "exports")."""

from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.import_page, name="page"),
    path("template.xlsx", views.import_template, name="template"),
    path("<int:pk>/", views.import_job, name="job"),
    path("<int:pk>/confirm/", views.import_confirm, name="confirm"),
    path("<int:pk>/errors.xlsx", views.import_errors, name="errors"),
]

export_urlpatterns = [
    path("<int:pk>/", views.export_job, name="job"),
    path("<int:pk>/download/", views.export_download, name="download"),
]
