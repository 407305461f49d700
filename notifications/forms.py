"""Forms of the notifications app: the per-user preferences matrix and the robot admin form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import registry
from .models import ReminderRule, Robot
from .selectors import PreferenceRow


def field_name(event_type: str, channel: str) -> str:
    return f"{event_type}__{channel}"


class PreferencesForm(forms.Form):
    """One checkbox per event type × available channel, initialised with what applies now."""

    def __init__(self, *args, rows: list[PreferenceRow], **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            for channel, enabled in row.cells:
                self.fields[field_name(row.event_type.key, channel)] = forms.BooleanField(
                    required=False,
                    initial=enabled,
                    label=f"{row.event_type.label} · {channel}",
                    widget=forms.CheckboxInput({"class": "form-check-input"}),
                )

    def choices(self) -> dict[tuple[str, str], bool]:
        return {
            (row.event_type.key, channel): bool(
                self.cleaned_data.get(field_name(row.event_type.key, channel))
            )
            for row in self.rows
            for channel, _enabled in row.cells
        }

    def table(self) -> list[tuple[PreferenceRow, list]]:
        """Rows with their bound fields, for the template."""
        return [
            (row, [self[field_name(row.event_type.key, c)] for c, _e in row.cells])
            for row in self.rows
        ]


class ReminderRuleForm(forms.ModelForm):
    class Meta:
        model = ReminderRule
        fields = ["kind", "enabled", "lead_days", "params", "channels"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(r.kind, f"{r.label} ({r.kind})") for r in registry.reminders()]
        current = self.instance.kind if self.instance and self.instance.pk else None
        if current and current not in {k for k, _l in choices}:
            choices.append((current, current))
        self.fields["kind"] = forms.ChoiceField(
            label=_("kind"),
            choices=choices,
            help_text=_("Reminder kinds registered by the installed apps."),
        )


class RobotForm(forms.ModelForm):
    """The department is chosen from the directory (assets' departments) and stored as id and
    name; a blank secret keeps the stored one."""

    department = forms.TypedChoiceField(
        label=_("department"), required=False, coerce=int, empty_value=None
    )
    secret = forms.CharField(
        label=_("signing secret"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=Robot._meta.get_field("secret").help_text,
    )
    clear_secret = forms.BooleanField(label=_("Remove the secret"), required=False)
    url = forms.URLField(label=_("webhook URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = Robot
        fields = ["name", "kind", "url", "department", "is_default", "enabled", "secret"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        directory = registry.directory()
        choices = directory.department_choices() if directory else []
        current = self.instance.department_id
        if current and current not in {pk for pk, _name in choices}:
            choices.append((current, self.instance.department_name or str(current)))
        self.fields["department"].choices = [("", "—")] + [(str(pk), n) for pk, n in choices]
        self.fields["department"].initial = current
        self._department_names = dict(choices)
        if self.instance.pk and self.instance.secret:
            self.fields["secret"].help_text = _("A secret is stored; leave blank to keep it.")

    def clean(self):
        cleaned = super().clean()
        department = cleaned.get("department")
        self.instance.department_id = department
        self.instance.department_name = (
            self._department_names.get(department, "") if department else ""
        )
        secret = cleaned.get("secret")
        if cleaned.get("clear_secret"):
            cleaned["secret"] = ""
        elif not secret and self.instance.pk:
            cleaned["secret"] = Robot.objects.get(pk=self.instance.pk).secret
        return cleaned
