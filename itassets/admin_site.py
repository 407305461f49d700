from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .roles import can_use_admin_site


class ItassetsAdminSite(admin.AdminSite):
    """The Django admin for system administrators and asset clerks (roles, not is_staff)."""

    site_header = settings.ADMIN_SITE_HEADER
    site_title = settings.ADMIN_SITE_HEADER
    index_title = _("Asset clerk workspace")

    def has_permission(self, request):
        return can_use_admin_site(request.user)

    def login(self, request, extra_context=None):
        """One login page for the whole site (with brute-force protection)."""
        from django.contrib.auth.views import redirect_to_login

        if request.user.is_authenticated and not self.has_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        return redirect_to_login(request.GET.get("next", request.get_full_path()))
