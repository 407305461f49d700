"""Forms of the web import page."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from assets.models import Category

from .jobs import import_upload_validate
from .service import KINDS

ENCODINGS = [
    ("", _("Detect automatically")),
    ("utf-8", "UTF-8"),
    ("gb18030", "GBK / GB18030"),
]


def kind_choices(kinds) -> list[tuple[str, str]]:
    return [(k, str(KINDS[k][0])) for k in kinds]


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to import"))
    file = forms.FileField(
        label=_("File"),
        help_text=_(".xlsx workbook or .csv file (UTF-8 or GBK)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,.txt"}),
    )
    encoding = forms.ChoiceField(label=_("CSV encoding"), choices=ENCODINGS, required=False)
    sheet = forms.CharField(
        label=_("Sheet"), max_length=100, required=False, help_text=_("Default: the first sheet")
    )
    create_missing_refs = forms.BooleanField(
        label=_("Create missing departments, locations, models and suppliers"), required=False
    )

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices(kinds)
        _bootstrap(self)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            import_upload_validate(upload)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return upload


class TemplateForm(forms.Form):
    kind = forms.ChoiceField(label=_("What to import"))
    category = forms.ModelChoiceField(
        label=_("Category (assets: adds its custom fields)"),
        queryset=Category.objects.order_by("path"),
        required=False,
    )

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices(kinds)
        self.fields["category"].label_from_instance = lambda c: c.full_name
        _bootstrap(self)


def _bootstrap(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs.setdefault("class", css)
