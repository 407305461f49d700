from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from .roles import can_use_admin_site


class ItassetsAdminSite(admin.AdminSite):
    """The Django admin for system administrators and asset clerks (roles, not is_staff)."""

    site_header = settings.ADMIN_SITE_HEADER
    site_title = settings.ADMIN_SITE_HEADER
    index_title = _("Asset clerk workspace")

    def has_permission(self, request):
        return can_use_admin_site(request.user)

    def admin_view(self, view, cacheable=False):
        """Anonymous: straight to the site login. Logged in without an admin role: 403.

        Django's own wrapper would send a logged-in employee to the admin login page (a
        redirect loop with our single login page) instead of telling them "forbidden".
        """
        from django.contrib.auth.views import redirect_to_login  # not at import: app loading

        wrapped = super().admin_view(view, cacheable)

        @wraps(wrapped)
        def inner(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not self.has_permission(request):
                raise PermissionDenied
            return wrapped(request, *args, **kwargs)

        return inner

    def login(self, request, extra_context=None):
        """One login page for the whole site (with brute-force protection)."""
        from django.contrib.auth.views import redirect_to_login

        if not request.user.is_authenticated:
            return redirect_to_login(request.GET.get("next") or reverse("admin:index"))
        if not self.has_permission(request):
            raise PermissionDenied
        next_url = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index", current_app=self.name)
        return HttpResponseRedirect(next_url)
