from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from assets import urls as asset_urls
from inventory import urls as inventory_urls

from . import health, views
from .forms import LoginForm
from .importing import urls as import_urls

urlpatterns = [
    path("", views.home, name="home"),
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", health.metrics, name="metrics"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("assets/", include("assets.urls")),
    path("approvals/", include((asset_urls.approval_urlpatterns, "approvals"))),
    # 我的: the self-service pages of assets (/me/assets/, /me/requests/) and inventory
    # (/me/requisitions/), one namespace; assets does not import inventory.
    path("me/", include((asset_urls.me_urlpatterns + inventory_urls.me_urlpatterns, "me"))),
    path("requests/", include((asset_urls.request_urlpatterns, "requests"))),
    path("reports/", include("assets.urls_reports")),
    path("imports/", include("itassets.importing.urls")),
    path("exports/", include((import_urls.export_urlpatterns, "exports"))),
    path("inventory/", include("inventory.urls")),
    path("notifications/", include("notifications.urls")),
    path("admin/", admin.site.urls),
]
