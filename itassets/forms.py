import math

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("Username"),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    error_messages = {
        "invalid_login": _(
            "Incorrect username or password. Note: after %(limit)s failed attempts in a row "
            "the account is locked for %(minutes)s minutes."
        ),
        "inactive": _("This account is disabled."),
    }

    def get_invalid_login_error(self):
        """The lockout figures come from the axes settings, so the text stays true when they
        change (``AXES_FAILURE_LIMIT``, ``AXES_COOLOFF_HOURS``)."""
        return forms.ValidationError(
            self.error_messages["invalid_login"],
            code="invalid_login",
            params={
                "limit": settings.AXES_FAILURE_LIMIT,
                "minutes": max(1, math.ceil(float(settings.AXES_COOLOFF_TIME) * 60)),
            },
        )
